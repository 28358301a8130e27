/**
 * LND's own protos (lightning, invoicesrpc, routerrpc) as shipped by @lightningpolar/lnd-api,
 * loaded with the options its generated TypeScript types assume (camelCase fields, 64-bit ints
 * as strings, enums as strings, defaults filled, bytes as Buffer).
 * Shared by the LND client and the test simulator so both speak exactly the same schema.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoSubsetJson } from './proto-subset.js';
import type { ProtoGrpcType as InvoicesProto } from '@lightningpolar/lnd-api/dist/types/invoices.js';
import type { ProtoGrpcType as RouterProto } from '@lightningpolar/lnd-api/dist/types/router.js';

export type LndProto = InvoicesProto & RouterProto;

export type { LightningClient, LightningHandlers } from '@lightningpolar/lnd-api/dist/types/lnrpc/Lightning.js';
export type { InvoicesClient, InvoicesHandlers } from '@lightningpolar/lnd-api/dist/types/invoicesrpc/Invoices.js';
export type { RouterClient, RouterHandlers } from '@lightningpolar/lnd-api/dist/types/routerrpc/Router.js';
export type { Invoice, InvoicePartial } from '@lightningpolar/lnd-api/dist/types/lnrpc/Invoice.js';
export type { Payment, PaymentPartial } from '@lightningpolar/lnd-api/dist/types/lnrpc/Payment.js';
export type { AddHoldInvoiceResp } from '@lightningpolar/lnd-api/dist/types/invoicesrpc/AddHoldInvoiceResp.js';
export type { GetInfoResponse, GetInfoResponsePartial } from '@lightningpolar/lnd-api/dist/types/lnrpc/GetInfoResponse.js';

export const LND_PROTO_FILES = ['lightning.proto', 'invoicesrpc/invoices.proto', 'routerrpc/router.proto'];

export function lndProtoDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('@lightningpolar/lnd-api/package.json')), 'protos');
}

/** Loads the three LND services (≈100 ms; call once per process component). */
/** How the generated types of @lightningpolar/lnd-api expect the protos loaded. */
const LOAD_OPTIONS = { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true } as const;

/** All three services, whole (the test simulator serves LND's own protos). */
export function loadLndProto(): LndProto {
  const def = protoLoader.loadSync(LND_PROTO_FILES, { ...LOAD_OPTIONS, includeDirs: [lndProtoDir()] });
  return grpc.loadPackageDefinition(def) as unknown as LndProto;
}

/** The RPCs the daemon's LND client calls (lnd-backend.ts); nothing else is loaded for it. */
export const LND_CLIENT_METHODS = {
  'lnrpc.Lightning': ['GetInfo'],
  'invoicesrpc.Invoices': ['AddHoldInvoice', 'SettleInvoice', 'CancelInvoice', 'LookupInvoiceV2', 'SubscribeSingleInvoice'],
  'routerrpc.Router': ['SendPaymentV2', 'TrackPaymentV2'],
} as const;

/**
 * The daemon's client view: the same three services with only LND_CLIENT_METHODS and the messages
 * they reach, cut from LND's files at load (proto-subset.ts; ≈ 3 MB less heap for the process's
 * life). A method not listed is absent from the client objects.
 */
export function loadLndClientProto(): LndProto {
  const json = protoSubsetJson(LND_PROTO_FILES, [lndProtoDir()], LND_CLIENT_METHODS, { keepCase: LOAD_OPTIONS.keepCase });
  return grpc.loadPackageDefinition(protoLoader.fromJSON(json, LOAD_OPTIONS)) as unknown as LndProto;
}
