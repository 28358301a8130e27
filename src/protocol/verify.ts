/**
 * Structural validation of an inbound MessageKind — mostro-core 0.8.0 `MessageKind::verify`
 * (PROTOCOL.md §3.3, HANDLERS.md §2.4). Messages failing it are dropped silently.
 */
import type { MessageKind } from './types.js';

export function verifyStructure(kind: MessageKind): boolean {
  const p = kind.payload;
  const hasId = kind.id !== undefined;
  // mostro-core 0.14: a bond_resolution payload only on admin-settle / admin-cancel.
  if (p !== null && 'bond_resolution' in p && kind.action !== 'admin-settle' && kind.action !== 'admin-cancel') return false;
  switch (kind.action) {
    case 'new-order':
      return p !== null && 'order' in p;
    case 'pay-invoice':
    case 'add-invoice':
      return hasId && p !== null && 'payment_request' in p;
    case 'take-sell':
    case 'take-buy':
    case 'fiat-sent':
    case 'fiat-sent-ok':
    case 'release':
    case 'released':
    case 'dispute':
    case 'admin-cancel':
    case 'admin-canceled':
    case 'admin-settle':
    case 'admin-settled':
    case 'rate':
    case 'rate-received':
    case 'admin-take-dispute':
    case 'admin-took-dispute':
    case 'dispute-initiated-by-you':
    case 'dispute-initiated-by-peer':
    case 'waiting-buyer-invoice':
    case 'purchase-completed':
    case 'hold-invoice-payment-accepted':
    case 'hold-invoice-payment-settled':
    case 'hold-invoice-payment-canceled':
    case 'waiting-seller-to-pay':
    case 'buyer-took-order':
    case 'buyer-invoice-accepted':
    case 'cooperative-cancel-initiated-by-you':
    case 'cooperative-cancel-initiated-by-peer':
    case 'cooperative-cancel-accepted':
    case 'cancel':
    case 'invoice-updated':
    case 'admin-add-solver':
    case 'send-dm':
    case 'trade-pubkey':
    case 'canceled':
      return hasId;
    case 'last-trade-index':
    case 'restore-session':
      return p === null;
    case 'payment-failed':
      return hasId && p !== null && 'payment_failed' in p;
    case 'rate-user':
      return p !== null && 'rating_user' in p;
    case 'cant-do':
      return p !== null && 'cant_do' in p;
    case 'orders':
      return p !== null && ('ids' in p || 'orders' in p);
  }
}
