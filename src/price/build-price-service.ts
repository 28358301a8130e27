import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { EffectivePriceConfig, EffectiveProvider } from './price-config.js';
import { MultiSourcePriceService, type ProviderEntry } from './price-service.js';
import { BlockchainProvider } from './providers/blockchain.js';
import { CoinGeckoProvider } from './providers/coingecko.js';
import { CurrencyApiProvider } from './providers/currency-api.js';
import { ElToqueProvider } from './providers/eltoque.js';
import { NostrProvider, type NostrRatesReader } from './providers/nostr.js';
import { YadioProvider } from './providers/yadio.js';
import type { PriceProvider } from './types.js';

export interface PriceServiceDeps {
  clock: Clock;
  logger: Logger;
  /** `mostro/<version>` */
  userAgent: string;
  /** reads kind 30078 from the node's relays (needed only when the nostr provider is enabled) */
  nostrReader: NostrRatesReader | null;
}

/** The registry: the one place that maps a provider id to its adapter. */
function buildProvider(p: EffectiveProvider, cfg: EffectivePriceConfig, deps: PriceServiceDeps): PriceProvider {
  const http = { urls: p.urls, userAgent: deps.userAgent };
  switch (p.id) {
    case 'yadio':
      return new YadioProvider(http);
    case 'coingecko':
      return new CoinGeckoProvider({ ...http, ...(p.apiKey !== undefined ? { apiKey: p.apiKey } : {}) });
    case 'currency_api':
      return new CurrencyApiProvider(http);
    case 'blockchain':
      return new BlockchainProvider(http);
    case 'eltoque':
      return new ElToqueProvider({ ...http, token: p.token ?? '', clock: deps.clock });
    case 'nostr':
      if (deps.nostrReader === null) throw new Error('the nostr price provider needs a relay reader');
      return new NostrProvider({
        trustedNodes: p.trustedNodes,
        reader: deps.nostrReader,
        clock: deps.clock,
        maxAgeSeconds: cfg.maxStalenessSeconds,
      });
  }
}

export function buildPriceService(cfg: EffectivePriceConfig, deps: PriceServiceDeps): MultiSourcePriceService {
  for (const id of cfg.unknownProviders) {
    deps.logger.warn({ provider: id }, 'unknown price provider in [price.providers] ignored');
  }
  const providers: ProviderEntry[] = cfg.providers.map((p) => ({
    provider: buildProvider(p, cfg, deps),
    only: p.only,
    except: p.except,
  }));
  if (providers.length === 0) deps.logger.error('no price provider enabled: market-price orders will be refused');
  deps.logger.info(
    {
      providers: cfg.providers.map((p) => p.id),
      mode: cfg.legacy ? 'yadio only ([mostro] bitcoin_price_api_url)' : '[price]',
      maxStalenessSeconds: cfg.maxStalenessSeconds,
      intervalSeconds: cfg.updateIntervalSeconds,
    },
    'price sources configured',
  );
  return new MultiSourcePriceService({
    providers,
    clock: deps.clock,
    logger: deps.logger,
    maxStalenessSeconds: cfg.maxStalenessSeconds,
    outlierThresholdPct: cfg.outlierThresholdPct,
    providerTimeoutMs: cfg.providerTimeoutSeconds * 1000,
    breaker: cfg.breaker,
    fiatAllowList: cfg.fiatAllowList,
  });
}
