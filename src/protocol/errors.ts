/**
 * A message (or its JSON text) that mostro-core's serde types would refuse. Intake treats it as a
 * silent drop; the message says what was wrong and where (`path`, e.g. `order.payload.order.amount`).
 */
export class ProtocolError extends Error {
  constructor(
    message: string,
    public readonly path: string = '',
  ) {
    super(path === '' ? message : `${path}: ${message}`);
    this.name = 'ProtocolError';
  }
}
