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

/** What corking needs of a socket (node's net.Socket / stream.Writable). */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * The net.Socket under a `ws` WebSocket, to cork. ws keeps it in `_socket`, which is not part of its
 * public API (ws 8 sets it once the connection is open): null when it is absent or not a stream,
 * and the frames are then written one by one as before.
 */
export function corkableSocketOf(ws: WebSocket): Corkable | null {
  const s = (ws as unknown as { _socket?: Partial<Corkable> | null })._socket;
  if (s === undefined || s === null || typeof s.cork !== 'function' || typeof s.uncork !== 'function') return null;
  return s as Corkable;
}

/**
 * Default factory over `ws`. `maxPayloadBytes` is ws' hard frame cap (a larger frame closes the
 * connection with 1009); the pool's own, smaller per-frame limit drops oversized frames
 * without disconnecting.
 *
 * Frames sent to one relay within the same tick leave in one write: the first send of a tick corks
 * the socket and a process.nextTick uncorks it, so the frames sent in between (e.g. a new order's
 * 38383 event and the reply, or the replies to several requests read at once) go out as one
 * `writev` instead of one each (ws corks only around each frame's header and payload). The bytes
 * and their order are those of the sends; nothing waits longer than the end of the current tick.
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
    let corked: Corkable | null = null;
    const uncork = (): void => {
      const s = corked;
      corked = null;
      s?.uncork();
    };
    return {
      send: (text) => {
        if (ws.readyState !== WebSocket.OPEN) return;
        if (corked === null) {
          corked = corkableSocketOf(ws);
          if (corked !== null) {
            corked.cork();
            process.nextTick(uncork);
          }
        }
        ws.send(text);
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
