import { decodeNostrPubkey } from '../config/nostr-pubkey.js';
import type { PriceProviderSettings, Settings } from '../config/types.js';
import { isProviderId, type ProviderId } from './types.js';

/** Lowest price-refresh interval mostrod allows (seconds). */
export const MIN_PRICE_INTERVAL_SECONDS = 60;

export interface EffectiveProvider {
  id: ProviderId;
  urls: string[];
  apiKey?: string;
  token?: string;
  /** upper-case; null = no restriction */
  only: ReadonlySet<string> | null;
  /** upper-case; null = none */
  except: ReadonlySet<string> | null;
  /** lower-case hex */
  trustedNodes: string[];
}

/** The price configuration the daemon runs with, from `[price]` or synthesised from `[mostro]`. */
export interface EffectivePriceConfig {
  /** true: no `[price]` section — Yadio alone from the 0.17.1 `[mostro]` keys, as before */
  legacy: boolean;
  updateIntervalSeconds: number;
  maxStalenessSeconds: number;
  outlierThresholdPct: number;
  providerTimeoutSeconds: number;
  breaker: { enabled: boolean; failureThreshold: number; cooldownSeconds: number; maxCooldownSeconds: number };
  publishToNostr: boolean;
  /** drop every code that is not a known fiat currency (off in legacy mode: Yadio's codes as before) */
  fiatAllowList: boolean;
  providers: EffectiveProvider[];
  /** `[price.providers.<id>]` tables this daemon does not know (logged, ignored) */
  unknownProviders: string[];
}

function upperSet(list: readonly string[] | undefined): ReadonlySet<string> | null {
  return list === undefined ? null : new Set(list.map((c) => c.trim().toUpperCase()));
}

/** currency-api's CUP is the official rate, not the market one: left out unless the operator scopes it. */
const DEFAULT_EXCEPT: Partial<Record<ProviderId, readonly string[]>> = { currency_api: ['CUP', 'MLC'] };
/** El Toque only knows CUP/MLC. */
const DEFAULT_ONLY: Partial<Record<ProviderId, readonly string[]>> = { eltoque: ['CUP', 'MLC'] };

function effectiveProvider(id: ProviderId, p: PriceProviderSettings): EffectiveProvider {
  const scoped = p.only !== undefined || p.except !== undefined;
  return {
    id,
    urls: [p.url, ...p.fallback_urls].map((u) => u.trim()).filter((u) => u !== ''),
    ...(p.api_key !== undefined && p.api_key !== '' ? { apiKey: p.api_key } : {}),
    ...(p.token !== undefined && p.token !== '' ? { token: p.token } : {}),
    only: upperSet(scoped ? p.only : DEFAULT_ONLY[id]),
    except: upperSet(scoped ? p.except : DEFAULT_EXCEPT[id]),
    trustedNodes: p.trusted_nodes.map((k) => decodeNostrPubkey(k)).filter((k): k is string => k !== null),
  };
}

export function effectivePriceConfig(settings: Pick<Settings, 'mostro' | 'price'>): EffectivePriceConfig {
  const m = settings.mostro;
  const p = settings.price;
  if (p === null) {
    return {
      legacy: true,
      updateIntervalSeconds: Math.max(MIN_PRICE_INTERVAL_SECONDS, m.exchange_rates_update_interval_seconds),
      maxStalenessSeconds: m.max_price_staleness_seconds,
      outlierThresholdPct: 5,
      providerTimeoutSeconds: 10,
      breaker: { enabled: false, failureThreshold: 3, cooldownSeconds: 120, maxCooldownSeconds: 1800 },
      publishToNostr: m.publish_exchange_rates_to_nostr,
      fiatAllowList: false,
      providers: [{ id: 'yadio', urls: [m.bitcoin_price_api_url], only: null, except: null, trustedNodes: [] }],
      unknownProviders: [],
    };
  }
  const providers: EffectiveProvider[] = [];
  const unknownProviders: string[] = [];
  for (const [id, cfg] of Object.entries(p.providers)) {
    if (!isProviderId(id)) {
      unknownProviders.push(id);
      continue;
    }
    if (cfg.enabled) providers.push(effectiveProvider(id, cfg));
  }
  return {
    legacy: false,
    updateIntervalSeconds: Math.max(MIN_PRICE_INTERVAL_SECONDS, p.update_interval_seconds),
    maxStalenessSeconds: p.max_price_staleness_seconds,
    outlierThresholdPct: p.outlier_threshold_pct,
    providerTimeoutSeconds: p.provider_timeout_seconds,
    breaker: {
      enabled: true,
      failureThreshold: p.provider_failure_threshold,
      cooldownSeconds: p.provider_failure_cooldown_seconds,
      maxCooldownSeconds: p.provider_failure_cooldown_max_seconds,
    },
    publishToNostr: p.publish_to_nostr,
    fiatAllowList: true,
    providers,
    unknownProviders,
  };
}
