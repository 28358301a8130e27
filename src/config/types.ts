/**
 * Settings as loaded from settings.toml (mostrod 0.17.1 keys, DAEMON.md §2) plus the keys this
 * port adds (all optional, documented in settings.tpl.toml and README). Section and key names are
 * mostrod's, snake_case.
 */
export interface LightningSettings {
  lnd_cert_file: string;
  lnd_macaroon_file: string;
  lnd_grpc_host: string;
  invoice_expiration_window: number;
  hold_invoice_cltv_delta: number;
  hold_invoice_expiration_window: number;
  payment_attempts: number;
  payment_retries_interval: number;
  /** port: blocks before the escrow HTLC's CLTV deadline at which the guard acts (default 12). */
  escrow_deadline_margin_blocks: number;
  /** port: cap on a buyer invoice's min_final_cltv_expiry_delta (default 144). */
  max_invoice_final_cltv_delta: number;
  /** port: seconds a payout may take before it is reconciled by hash instead of awaited (default 75). */
  payment_timeout_seconds: number;
}

export interface NostrSettings {
  nsec_privkey: string;
  relays: string[];
  /** Worker threads for the Nostr crypto; absent = cores − 1 (at least 1); 0 = none. */
  crypto_threads?: number;
  /** Protocol v2: verified kind-14 events per second one author may sustain (default 5). */
  author_rate?: number;
  /** Protocol v2: verified kind-14 events one author may send at once (default 5). */
  author_burst?: number;
}

export interface MostroSettings {
  fee: number;
  max_routing_fee: number;
  max_order_amount: number;
  min_payment_amount: number;
  expiration_hours: number;
  max_expiration_days: number;
  expiration_seconds: number;
  user_rates_sent_interval_seconds: number;
  publish_relays_interval: number;
  pow: number;
  /**
   * Wire transport(s) served: 'gift-wrap' (protocol v1 only; default when absent), 'nip44'
   * (protocol v2 only) or 'both' (port: each trade key answered on the transport it speaks).
   */
  transport: 'gift-wrap' | 'nip44' | 'both';
  /** PoW (bits) a kind-14 event must carry when its author is not a known active key; default `pow`. */
  pow_first_contact?: number;
  /** Seconds between full reloads of the known-active-key set (default 60). */
  active_pubkeys_refresh_interval: number;
  /**
   * port: days a trade key's remembered transport is kept after its last activity, once the key is
   * on no unfinished order, open dispute or solver list (default 30, at least 1).
   */
  transport_retention_days: number;
  publish_mostro_info_interval: number;
  bitcoin_price_api_url: string;
  fiat_currencies_accepted: string[];
  max_orders_per_response: number;
  /**
   * port: pending orders one identity key may have at once; a further new-order is refused with
   * cant-do `pending_order_exists` (default 0 = no limit, as mostrod).
   */
  max_pending_orders_per_user: number;
  /**
   * port: takes an identity may abandon (it canceled as taker, or ran out of time, and the order went
   * back to pending) within `abandoned_takes_window_hours` before its takes get cant-do
   * `too_many_requests` (default 0 = no limit, as mostrod).
   */
  max_abandoned_takes: number;
  /** port: hours an abandoned take counts against its taker (default 24, at least 1). */
  abandoned_takes_window_hours: number;
  /**
   * port: node-wide budget of new orders per minute (a burst of as many) from makers nobody has
   * rated — every full-privacy maker, and identities with `total_reviews = 0`; beyond it a new
   * order gets cant-do `too_many_requests` (default 0 = no limit, as mostrod; app/unrated-budget.ts).
   */
  unrated_orders_per_minute: number;
  /** port: the same budget for take-sell / take-buy by takers nobody has rated (default 0 = no limit). */
  unrated_takes_per_minute: number;
  dev_fee_percentage: number;
  name?: string;
  about?: string;
  picture?: string;
  website?: string;
  publish_exchange_rates_to_nostr: boolean;
  exchange_rates_update_interval_seconds: number;
  /** port: refuse market-price quotes older than this many seconds (default 900). */
  max_price_staleness_seconds: number;
  /**
   * port: Lightning address the dev fee is paid to. Fixed to mostrod's constant on mainnet; only a
   * non-mainnet node may point it elsewhere (e.g. a local LNURL server in tests).
   */
  dev_fee_lightning_address?: string;
  /** port: allow LNURL/Lightning-address targets on loopback/private hosts and plain http (tests only). */
  lnurl_allow_private_hosts: boolean;
}

export interface DatabaseSettings {
  url: string;
}

export interface RpcSettings {
  enabled: boolean;
  listen_address: string;
  port: number;
  rate_limiter_stale_duration: number;
  /** port: file with the bearer token(s) every call of both gRPC services must carry; absent = none. */
  auth_token_file?: string;
}

export interface ExpirationSettings {
  order_days: number;
  rating_days: number;
  dispute_days: number;
  fee_audit_days: number;
  /** NIP-40 expiration (days) of protocol-v2 kind-14 messages (default 30). */
  dm_days: number;
}

/** port: `[http]` — the operator HTTP listener (/metrics, /healthz, /readyz); off by default. */
export interface HttpSettings {
  enabled: boolean;
  listen_address: string;
  port: number;
}

/** port: `[alerts]` — encrypted operator DMs (NIP-17) about incidents; off without admin_npub. */
export interface AlertsSettings {
  /** npub1… or 64-char hex public key of the operator; absent = no alerts are sent. */
  admin_npub?: string;
  /** seconds between alert checks (default 60) */
  check_interval_seconds: number;
  /** LND link down at least this long before alerting (default 5) */
  lnd_down_minutes: number;
  /** every relay disconnected at least this long before alerting (default 2) */
  relays_down_minutes: number;
  /** alert when a held escrow's HTLC expires within this many blocks (default 72) */
  escrow_deadline_blocks: number;
  /** alert when the newest price is older than this (default 1800) */
  price_stale_seconds: number;
  /**
   * alert when the intake shed at least this many inbound events unchecked (verdict
   * `overloaded`) in one episode of shedding (default 100; 0 = never)
   */
  overload_shed_events: number;
  /** an episode of shedding ends (and its alert resolves) after this long without any (default 10) */
  overload_quiet_minutes: number;
  /**
   * alert when an order's kind-38383 event has not been accepted by any relay for this long while
   * a relay was connected (default 15; 0 = never)
   */
  order_events_unaccepted_minutes: number;
  /**
   * alert when a dispute's kind-38386 event (how solvers learn of it) has not been accepted by any
   * relay for this long while a relay was connected (default 15; 0 = never)
   */
  dispute_events_unaccepted_minutes: number;
}

/** port: `[backup]` — scheduled online backups of mostro.db; none without a schedule. */
export interface BackupSettings {
  /** cron expression (5 fields, or 6 with seconds first), evaluated in UTC: src/ops/cron.ts */
  schedule?: string;
  /** where backups go (default `<settings dir>/backups`; relative = relative to the settings dir) */
  dir?: string;
  /** how many of the newest scheduled backups to keep (default 7) */
  keep: number;
}

export interface Settings {
  lightning: LightningSettings;
  nostr: NostrSettings;
  mostro: MostroSettings;
  database: DatabaseSettings;
  rpc: RpcSettings;
  /** null when the [expiration] section is absent (then the four kinds use max_expiration_days). */
  expiration: ExpirationSettings | null;
  /** `[price]` (multi-source prices, issue 16); null when absent = Yadio alone from [mostro] keys. */
  price: PriceSettings | null;
  /** port: `[http]` (defaults when the section is absent). */
  http: HttpSettings;
  /** port: `[alerts]` (defaults when the section is absent). */
  alerts: AlertsSettings;
  /** port: `[backup]` (defaults when the section is absent). */
  backup: BackupSettings;
}

/** One `[price.providers.<id>]` table (upstream 0.18 keys). */
export interface PriceProviderSettings {
  enabled: boolean;
  /** base URL (not used by the nostr provider) */
  url: string;
  /** ordered mirrors tried when `url` fails */
  fallback_urls: string[];
  /** CoinGecko demo/pro key (never logged) */
  api_key?: string;
  /** El Toque Bearer token (never logged) */
  token?: string;
  /** restrict this provider to these currencies */
  only?: string[];
  /** exclude these currencies from this provider */
  except?: string[];
  /** nostr provider: public keys (hex or npub) of the Mostro nodes whose kind-30078 rates are trusted */
  trusted_nodes: string[];
}

/** `[price]` — upstream 0.18 keys plus `provider_failure_cooldown_max_seconds` (port). */
export interface PriceSettings {
  update_interval_seconds: number;
  max_price_staleness_seconds: number;
  outlier_threshold_pct: number;
  provider_timeout_seconds: number;
  /** consecutive failures that open a provider's circuit breaker (0 acts as 1, as upstream) */
  provider_failure_threshold: number;
  provider_failure_cooldown_seconds: number;
  /** port: the cap the doubling cooldown grows to (upstream: fixed 1800) */
  provider_failure_cooldown_max_seconds: number;
  publish_to_nostr: boolean;
  providers: Record<string, PriceProviderSettings>;
}
