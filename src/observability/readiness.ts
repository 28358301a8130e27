/**
 * /readyz: the daemon can do its job — the database accepts a write, at least one relay is
 * connected (and subscribed: the pool sends the REQ on every open), and the LND link is up.
 * Each check reports its own detail so the JSON body names what is not ready.
 */
import type { LinkState } from '../lightning/backend.js';
import type { RelayStatus } from '../nostr/relay-pool.js';

export interface CheckResult {
  ok: boolean;
  detail: string;
}

export interface Readiness {
  ready: boolean;
  /** names of the failing checks, in check order */
  not_ready: string[];
  checks: Record<'database' | 'relays' | 'lightning', CheckResult>;
}

export interface ReadinessDeps {
  /** A small real write (throws when the database cannot be written). */
  writeProbe: () => Promise<void>;
  relays: () => RelayStatus[];
  lightning: { readonly state: LinkState; readonly lastError?: string | null };
  /** Bound on the write probe (ms); a locked database counts as not ready. Default 2000. */
  probeTimeoutMs?: number;
}

async function probeDatabase(deps: ReadinessDeps): Promise<CheckResult> {
  const ms = deps.probeTimeoutMs ?? 2000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timedOut = await Promise.race([
      deps.writeProbe().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), ms);
        timer.unref();
      }),
    ]);
    return timedOut ? { ok: false, detail: `write did not finish within ${ms} ms` } : { ok: true, detail: 'writable' };
  } catch (err) {
    return { ok: false, detail: `write failed: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    clearTimeout(timer);
  }
}

function checkRelays(relays: RelayStatus[]): CheckResult {
  const open = relays.filter((r) => r.state === 'open');
  if (open.length > 0) return { ok: true, detail: `${open.length} of ${relays.length} connected` };
  const why = relays.map((r) => `${r.url}: ${r.state}${r.lastError !== null ? ` (${r.lastError})` : ''}`).join('; ');
  return { ok: false, detail: relays.length === 0 ? 'no relay configured' : `0 of ${relays.length} connected: ${why}` };
}

function checkLightning(l: ReadinessDeps['lightning']): CheckResult {
  if (l.state === 'up') return { ok: true, detail: 'up' };
  const err = l.lastError ?? null;
  return { ok: false, detail: err !== null ? `${l.state}: ${err}` : l.state };
}

export async function checkReadiness(deps: ReadinessDeps): Promise<Readiness> {
  const checks = {
    database: await probeDatabase(deps),
    relays: checkRelays(deps.relays()),
    lightning: checkLightning(deps.lightning),
  };
  const not_ready = Object.entries(checks)
    .filter(([, c]) => !c.ok)
    .map(([name]) => name);
  return { ready: not_ready.length === 0, not_ready, checks };
}
