/**
 * Buyer payout target validation (HANDLERS.md §3.5, DAEMON.md §5.9) with the upstream fixes:
 * the invoice's network must match the node's (HQ-11, #861), its min_final_cltv_expiry_delta is
 * capped (#861/#949), amounts that are not whole sats are refused, and LNURL targets are checked
 * for the expected amount when one is known.
 */
import type { Settings } from '../config/types.js';
import { CantDoError } from '../errors.js';
import type { DecodedPaymentRequest } from './backend.js';
import { decodeBolt11, sameNetwork } from './bolt11.js';
import { isLightningAddress, isLnurl, type LnurlResolver } from './lnurl.js';

export { decodeBolt11, networkFromLnd, networkOfPaymentRequest, sameNetwork, type Network } from './bolt11.js';
export { isLightningAddress, isLnurl } from './lnurl.js';

export interface ValidateBuyerInvoiceInput {
  paymentRequest: string;
  /** amount − fee in sats; null = don't check the amount */
  expectedSats: number | null;
  settings: Settings;
  /** the node's network as LND reports it (e.g. `regtest`); null = unknown, not checked */
  nodeNetwork: string | null;
  /** unix seconds */
  now: number;
  lnurl: LnurlResolver;
}

export type ValidatedBuyerInvoice =
  | { kind: 'bolt11'; decoded: DecodedPaymentRequest }
  | { kind: 'lnaddress' | 'lnurl'; target: string };

/** Why a BOLT11 invoice was refused (for logs); null when it is acceptable. */
export function bolt11Problem(
  decoded: DecodedPaymentRequest,
  rules: {
    expectedSats: number | null;
    minPaymentAmount: number;
    invoiceExpirationWindow: number;
    maxFinalCltvDelta: number;
    nodeNetwork: string | null;
    now: number;
  },
): string | null {
  if (rules.nodeNetwork !== null && !sameNetwork(decoded.network, rules.nodeNetwork)) {
    return `invoice network ${decoded.network} does not match node network ${rules.nodeNetwork}`;
  }
  if (decoded.minFinalCltvExpiry > rules.maxFinalCltvDelta) {
    return `min_final_cltv_expiry ${decoded.minFinalCltvExpiry} exceeds ${rules.maxFinalCltvDelta}`;
  }
  if (decoded.amountMsat % 1000n !== 0n) return `amount ${decoded.amountMsat} msat is not a whole number of sats`;
  const sats = Number(decoded.amountMsat / 1000n);
  if (rules.expectedSats !== null) {
    if (rules.expectedSats < 0) return 'amount minus fee is negative';
    if (sats !== 0 && sats !== rules.expectedSats) return `invoice is for ${sats} sats, expected ${rules.expectedSats}`;
  }
  if (sats !== 0 && sats < rules.minPaymentAmount) return `invoice amount ${sats} below min_payment_amount ${rules.minPaymentAmount}`;
  const expiresAt = decoded.timestamp + decoded.expirySeconds;
  if (expiresAt <= rules.now) return 'invoice expired';
  if (expiresAt < rules.now + rules.invoiceExpirationWindow) {
    return `invoice expires in ${expiresAt - rules.now}s, less than invoice_expiration_window ${rules.invoiceExpirationWindow}s`;
  }
  return null;
}

/**
 * Validates a buyer's payout target. Lightning addresses and LNURLs are checked by asking the
 * service (and, when `expectedSats` is a positive amount, that it accepts that amount); BOLT11
 * invoices by the rules of bolt11Problem. Throws CantDoError('invalid_invoice') on any failure.
 */
export async function validateBuyerInvoice(input: ValidateBuyerInvoiceInput): Promise<ValidatedBuyerInvoice> {
  const target = input.paymentRequest.trim();
  const lnKind = isLightningAddress(target) ? 'lnaddress' : isLnurl(target) ? 'lnurl' : null;
  if (lnKind !== null) {
    const amount = input.expectedSats !== null && input.expectedSats > 0 ? input.expectedSats : undefined;
    try {
      await input.lnurl.check(target, amount);
    } catch (err) {
      throw new CantDoError('invalid_invoice', `${lnKind} ${target} not usable: ${(err as Error).message}`);
    }
    return { kind: lnKind, target };
  }
  let decoded: DecodedPaymentRequest;
  try {
    decoded = decodeBolt11(target);
  } catch (err) {
    throw new CantDoError('invalid_invoice', (err as Error).message);
  }
  const problem = bolt11Problem(decoded, {
    expectedSats: input.expectedSats,
    minPaymentAmount: input.settings.mostro.min_payment_amount,
    invoiceExpirationWindow: input.settings.lightning.invoice_expiration_window,
    maxFinalCltvDelta: input.settings.lightning.max_invoice_final_cltv_delta,
    nodeNetwork: input.nodeNetwork,
    now: input.now,
  });
  if (problem !== null) throw new CantDoError('invalid_invoice', problem);
  return { kind: 'bolt11', decoded };
}
