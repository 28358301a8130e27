/**
 * The WebSocket seen by the relay pool: a tiny adapter so tests can inject a fake transport and
 * the pool never touches `ws` types directly.
 */
import WebSocket from 'ws';

export interface SocketHandlers {
  onOpen(): void;
  /**
   * One text frame, as raw bytes (the pool checks the size before decoding). Not checked for
   * valid UTF-8 when the factory was made with `skipUtf8Validation`: the receiver checks it then.
   */
  onMessage(data: Buffer): void;
  onClose(code: number, reason: string): void;
  onError(err: Error): void;
  onPong(): void;
}

export interface RelaySocket {
  send(text: string): void;
  /** Polite close (close frame). */
  close(): void;
  /** Drop the connection now. */
  terminate(): void;
  ping(): void;
}

export type SocketFactory = (url: string, handlers: SocketHandlers) => RelaySocket;

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export interface WsSocketOptions {
  /**
   * Hand text frames over without ws' UTF-8 check (which would close the connection with 1007 on
   * an invalid frame). For a receiver that drops most frames from their raw bytes (the relay
   * pool: size, PoW) and checks the UTF-8 of the frames it goes on to decode.
   */
  skipUtf8Validation?: boolean;
}

/**
 * Default factory over `ws`. `maxPayloadBytes` is ws' hard frame cap (a larger frame closes the
 * connection with 1009); the pool's own, smaller per-frame limit drops oversized frames
 * without disconnecting.
 */
export function wsSocketFactory(maxPayloadBytes = 1024 * 1024, o: WsSocketOptions = {}): SocketFactory {
  return (url, h) => {
    const ws = new WebSocket(url, { maxPayload: maxPayloadBytes, perMessageDeflate: false, skipUTF8Validation: o.skipUtf8Validation === true });
    ws.on('open', () => h.onOpen());
    ws.on('message', (data, isBinary) => {
      if (!isBinary) h.onMessage(toBuffer(data));
    });
    ws.on('close', (code, reason) => h.onClose(code, reason.toString('utf8')));
    ws.on('error', (err) => h.onError(err));
    ws.on('pong', () => h.onPong());
    return {
      send: (text) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(text);
      },
      close: () => {
        try {
          ws.close();
        } catch {
          ws.terminate();
        }
      },
      terminate: () => ws.terminate(),
      ping: () => {
        if (ws.readyState === WebSocket.OPEN) ws.ping();
      },
    };
  };
}
