/**
 * Replay one schedule with a step trace: `SIM_REPLAY='new-sell,take(o0+inv),…' node --import tsx
 * test/sim/replay.ts`. Prints every step (with the Lightning ops pending before it), the messages
 * sent, warnings/errors logged, the node ledger and the invariant that failed, if any.
 * `SIM_POWER_CUTS=1` replays a schedule of the power-cut property (power-cut steps, the durability
 * barrier modelled). The LNURL provider's metadata is as in the property the schedule came from
 * (`shared` in the crash-only one, `per-address` with power cuts); `SIM_LNURL_METADATA=shared` or
 * `per-address` overrides it (the FINDINGS entries marked sharedLnurlMetadata replay with `shared`).
 * `SIM_LNURL_FRESHNESS=0` replays without the daemon's LNURL freshness rule;
 * `SIM_RESTORE_EVENT_TIMES=0` without a restarted process learning its predecessor's order event
 * times (finding F16). The power-cut property takes the same two variables.
 */
import { SimWorld } from '../support/sim-world.js';
import { parseSchedule } from './commands.js';

const text = process.env.SIM_REPLAY ?? process.argv[2];
if (text === undefined) {
  console.error('usage: SIM_REPLAY="<schedule>" node --import tsx test/sim/replay.ts');
  process.exit(2);
}
const skip = (process.env.SIM_SKIP ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '');
const powerCuts = process.env.SIM_POWER_CUTS === '1';
const lnurlMetadata = process.env.SIM_LNURL_METADATA === 'shared' || process.env.SIM_LNURL_METADATA === 'per-address' ? process.env.SIM_LNURL_METADATA : powerCuts ? 'per-address' : 'shared';
// SIM_LNURL_FRESHNESS=0: the daemon without the LNURL freshness rule (finding F10s).
const lnurlFreshness = process.env.SIM_LNURL_FRESHNESS !== '0';
const restoreEventTimes = process.env.SIM_RESTORE_EVENT_TIMES !== '0';
const w = await SimWorld.create({ trace: true, skip, lnurlMetadata, lnurlFreshness, restoreEventTimes, ...(powerCuts ? { powerCuts: true } : {}) });
let failure: unknown = null;
try {
  await w.run(parseSchedule(text));
} catch (err) {
  failure = err;
}
console.log('--- steps');
console.log(w.trace.join('\n'));
console.log('--- messages (step to action order)');
for (const s of w.sent) {
  const o = w.orders.find((x) => x.id === s.orderId);
  const who = o === undefined ? s.to.slice(0, 8) : s.to === o.buyer.pubkey ? 'buyer' : s.to === o.seller.pubkey ? 'seller' : 'admin';
  console.log(`${s.step} ${who} ${s.action} o${o?.n ?? '?'} ${s.fate}`);
}
console.log('--- logs (warn and above)');
for (const l of w.logs) console.log(`p${l.proc} ${l.level} ${l.msg}${l.orderId !== undefined ? ` order ${l.orderId.slice(0, 8)}` : ''}`);
console.log('--- ledger');
for (const e of w.node.ledger) console.log(`${e.step} ${e.kind} ${e.hash.slice(0, 6)}${e.amountSats !== undefined ? ` ${e.amountSats} sat` : ''}`);
console.log('--- skipped invariants (SIM_SKIP)');
for (const v of w.skipped) console.log(v);
console.log('--- explicit schedule (progress resolved; stable to keep as a regression test)');
console.log(w.explicit.join(','));
console.log('--- result');
console.log(failure === null ? 'all invariants hold' : String(failure));
await w.dispose();
process.exit(failure === null ? 0 : 1);
