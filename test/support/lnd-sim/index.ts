export { startLndSim, type LndSim, type LndSimOptions, type PaymentOutcome, type FailureReason, type SimCall } from './sim.js';
export { startSimControl, LndSimClient, simState, type SimState } from './control.js';
export { signInvoice, nodePubkeyOf, SIM_NODE_KEY, PAYEE_NODE_KEY, type SignedInvoice, type SignInvoiceOptions } from './invoices.js';
