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
  publish_mostro_info_interval: number;
  bitcoin_price_api_url: string;
  fiat_currencies_accepted: string[];
  max_orders_per_response: number;
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
}

export interface ExpirationSettings {
  order_days: number;
  rating_days: number;
  dispute_days: number;
  fee_audit_days: number;
}

export interface Settings {
  lightning: LightningSettings;
  nostr: NostrSettings;
  mostro: MostroSettings;
  database: DatabaseSettings;
  rpc: RpcSettings;
  /** null when the [expiration] section is absent (then the four kinds use max_expiration_days). */
  expiration: ExpirationSettings | null;
}
