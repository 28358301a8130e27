import { z } from 'zod';
import { decodeNostrPubkey } from './nostr-pubkey.js';

/**
 * zod schema of the `[price]` section (multi-source prices, issue 16). Same keys and defaults as
 * upstream mostrod 0.18's `[price]` / `[price.providers.<id>]`, so an upstream settings.toml loads
 * here; `provider_failure_cooldown_max_seconds` is this port's (upstream hard-codes 1800).
 * Unknown provider ids are kept (the daemon logs and ignores them, like upstream).
 */

function positiveInt(what: string) {
  return z.number().superRefine((v, ctx) => {
    if (!Number.isInteger(v)) ctx.addIssue({ code: 'custom', message: `${v} is not an integer` });
    else if (v <= 0) ctx.addIssue({ code: 'custom', message: `${what} must be greater than 0, got ${v}` });
    else if (v > Number.MAX_SAFE_INTEGER) ctx.addIssue({ code: 'custom', message: `${v} is too large` });
  });
}

function httpUrl(v: string): string | null {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return `${JSON.stringify(v)} is not a valid URL (expected http:// or https://)`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `${JSON.stringify(v)} must use http:// or https://`;
  if (u.hostname === '') return `${JSON.stringify(v)} has no host`;
  return null;
}

const currencyList = z.array(z.string().min(1));

export const priceProviderSchema = z
  .object({
    enabled: z.boolean().default(false),
    url: z.string().default(''),
    fallback_urls: z.array(z.string()).default([]),
    api_key: z.string().optional(),
    token: z.string().optional(),
    only: currencyList.optional(),
    except: currencyList.optional(),
    trusted_nodes: z.array(z.string()).default([]),
  })
  .superRefine((p, ctx) => {
    if (p.only !== undefined && p.except !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['only'], message: '`only` and `except` are mutually exclusive' });
    }
    if (p.url.trim() !== '') {
      const bad = httpUrl(p.url);
      if (bad !== null) ctx.addIssue({ code: 'custom', path: ['url'], message: bad });
    }
    p.fallback_urls.forEach((u, i) => {
      const bad = httpUrl(u);
      if (bad !== null) ctx.addIssue({ code: 'custom', path: ['fallback_urls', i], message: bad });
    });
    p.trusted_nodes.forEach((k, i) => {
      if (decodeNostrPubkey(k) === null) {
        ctx.addIssue({
          code: 'custom',
          path: ['trusted_nodes', i],
          message: `${JSON.stringify(k)} is not a public key (64 hex characters or npub1…)`,
        });
      }
    });
  });

export const priceSchema = z
  .object({
    update_interval_seconds: positiveInt('update_interval_seconds').default(300),
    max_price_staleness_seconds: positiveInt('max_price_staleness_seconds').default(1800),
    outlier_threshold_pct: z.number().default(5.0),
    provider_timeout_seconds: positiveInt('provider_timeout_seconds').default(10),
    provider_failure_threshold: z
      .number()
      .refine((v) => Number.isInteger(v) && v >= 0, { message: 'must be an unsigned integer' })
      .default(3),
    provider_failure_cooldown_seconds: positiveInt('provider_failure_cooldown_seconds').default(120),
    provider_failure_cooldown_max_seconds: positiveInt('provider_failure_cooldown_max_seconds').default(1800),
    publish_to_nostr: z.boolean().default(true),
    providers: z.record(z.string(), priceProviderSchema).default({}),
  })
  .superRefine((p, ctx) => {
    if (!(Number.isFinite(p.outlier_threshold_pct) && p.outlier_threshold_pct > 0 && p.outlier_threshold_pct <= 100)) {
      ctx.addIssue({
        code: 'custom',
        path: ['outlier_threshold_pct'],
        message: `must be in (0, 100], got ${p.outlier_threshold_pct}`,
      });
    }
    if (p.provider_failure_cooldown_max_seconds < p.provider_failure_cooldown_seconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['provider_failure_cooldown_max_seconds'],
        message: `must be >= provider_failure_cooldown_seconds (${p.provider_failure_cooldown_seconds})`,
      });
    }
    for (const [id, cfg] of Object.entries(p.providers)) {
      if (!cfg.enabled) continue;
      if (id === 'nostr') {
        if (cfg.trusted_nodes.length === 0) {
          ctx.addIssue({
            code: 'custom',
            path: ['providers', id, 'trusted_nodes'],
            message: 'the enabled nostr provider needs at least one trusted node public key',
          });
        }
        continue;
      }
      if (cfg.url.trim() === '') {
        ctx.addIssue({ code: 'custom', path: ['providers', id, 'url'], message: 'an enabled provider needs a url' });
      }
      if (id === 'eltoque' && (cfg.token ?? '').trim() === '') {
        ctx.addIssue({
          code: 'custom',
          path: ['providers', id, 'token'],
          message: 'the enabled eltoque provider needs its Bearer token',
        });
      }
    }
  });
