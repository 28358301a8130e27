/**
 * Lossless, strict JSON parser with serde_json's acceptance rules.
 *
 * - Integer literals (no fraction, no exponent) become `bigint`, so u64/i64 values round-trip
 *   exactly. The one exception is `-0`, which serde_json reads as the float -0.0: it becomes the
 *   number `-0` (so it is refused where an integer is required, like serde does).
 * - Numbers with a fraction or exponent become `number`; values that overflow f64 are refused
 *   ("number out of range", like serde_json).
 * - Strings: raw control characters (< 0x20) are refused, only the JSON escapes are allowed, and
 *   `\u` escapes must not leave a lone surrogate (serde_json refuses those when reading a String).
 * - Only space, tab, LF and CR count as whitespace; anything after the value is refused.
 * - Duplicate keys in one object are refused (every object in a Mostro message is a serde struct
 *   or enum, and serde refuses a duplicate field).
 * - Nesting deeper than serde_json's recursion limit (127 levels) is refused.
 */
import { ProtocolError } from './errors.js';

export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** serde_json's default recursion limit is 128 with the 128th level refused. */
export const MAX_JSON_DEPTH = 127;

/** Character range of one element in the source text: `text.slice(start, end)`. */
export interface Span {
  start: number;
  end: number;
}

export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parse a complete JSON text. Throws ProtocolError on anything serde_json would refuse. */
export function parseJson(text: string): JsonValue {
  const p = new Parser(text);
  p.ws();
  const value = p.value(0);
  p.ws();
  p.end();
  return value;
}

/**
 * Parse a JSON text whose top level must be an array, also returning the exact source span of
 * each top-level element (used to keep the raw text of the Message inside rumor content).
 */
export function parseJsonArrayWithSpans(text: string): { elements: JsonValue[]; spans: Span[] } {
  const p = new Parser(text);
  p.ws();
  if (p.peek() !== 0x5b /* [ */) p.fail('expected a JSON array');
  p.pos++;
  const elements: JsonValue[] = [];
  const spans: Span[] = [];
  p.ws();
  if (p.peek() === 0x5d /* ] */) {
    p.pos++;
  } else {
    for (;;) {
      p.ws();
      const start = p.pos;
      elements.push(p.value(1));
      spans.push({ start, end: p.pos });
      p.ws();
      const c = p.peek();
      if (c === 0x2c /* , */) {
        p.pos++;
        continue;
      }
      if (c === 0x5d) {
        p.pos++;
        break;
      }
      p.fail("expected ',' or ']'");
    }
  }
  p.ws();
  p.end();
  return { elements, spans };
}

class Parser {
  pos = 0;
  constructor(private readonly text: string) {}

  fail(msg: string): never {
    throw new ProtocolError(`invalid JSON: ${msg} at character ${this.pos}`);
  }

  peek(): number {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  ws(): void {
    const t = this.text;
    let i = this.pos;
    while (i < t.length) {
      const c = t.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.pos = i;
  }

  end(): void {
    if (this.pos !== this.text.length) this.fail('trailing characters');
  }

  value(depth: number): JsonValue {
    const c = this.peek();
    switch (c) {
      case 0x7b: // {
        return this.object(depth + 1);
      case 0x5b: // [
        return this.array(depth + 1);
      case 0x22: // "
        return this.string();
      case 0x74: // t
        return this.literal('true', true);
      case 0x66: // f
        return this.literal('false', false);
      case 0x6e: // n
        return this.literal('null', null);
      case -1:
        return this.fail('unexpected end of input');
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        return this.fail('expected a value');
    }
  }

  private literal<T extends JsonValue>(word: string, v: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail(`expected '${word}'`);
    this.pos += word.length;
    return v;
  }

  private checkDepth(depth: number): void {
    if (depth > MAX_JSON_DEPTH) this.fail('recursion limit exceeded');
  }

  private object(depth: number): JsonObject {
    this.checkDepth(depth);
    this.pos++; // {
    const obj: JsonObject = {};
    const seen = new Set<string>();
    this.ws();
    if (this.peek() === 0x7d) {
      this.pos++;
      return obj;
    }
    for (;;) {
      this.ws();
      if (this.peek() !== 0x22) this.fail('expected a string key');
      const keyPos = this.pos;
      const key = this.string();
      if (seen.has(key)) {
        this.pos = keyPos;
        this.fail(`duplicate key ${JSON.stringify(key)}`);
      }
      seen.add(key);
      this.ws();
      if (this.peek() !== 0x3a) this.fail("expected ':'");
      this.pos++;
      this.ws();
      const v = this.value(depth);
      // defineProperty: a "__proto__" key must become an own property, not a prototype change.
      Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
      this.ws();
      const c = this.peek();
      if (c === 0x2c) {
        this.pos++;
        continue;
      }
      if (c === 0x7d) {
        this.pos++;
        return obj;
      }
      this.fail("expected ',' or '}'");
    }
  }

  private array(depth: number): JsonValue[] {
    this.checkDepth(depth);
    this.pos++; // [
    const arr: JsonValue[] = [];
    this.ws();
    if (this.peek() === 0x5d) {
      this.pos++;
      return arr;
    }
    for (;;) {
      this.ws();
      arr.push(this.value(depth));
      this.ws();
      const c = this.peek();
      if (c === 0x2c) {
        this.pos++;
        continue;
      }
      if (c === 0x5d) {
        this.pos++;
        return arr;
      }
      this.fail("expected ',' or ']'");
    }
  }

  private number(): number | bigint {
    const t = this.text;
    const start = this.pos;
    let i = start;
    if (t.charCodeAt(i) === 0x2d) i++;
    const firstDigit = t.charCodeAt(i);
    if (firstDigit === 0x30) {
      i++;
    } else if (firstDigit >= 0x31 && firstDigit <= 0x39) {
      while (isDigit(t.charCodeAt(i))) i++;
    } else {
      this.pos = i;
      this.fail('invalid number');
    }
    let isFloat = false;
    if (t.charCodeAt(i) === 0x2e) {
      i++;
      if (!isDigit(t.charCodeAt(i))) {
        this.pos = i;
        this.fail('invalid number');
      }
      while (isDigit(t.charCodeAt(i))) i++;
      isFloat = true;
    }
    const e = t.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      i++;
      const s = t.charCodeAt(i);
      if (s === 0x2b || s === 0x2d) i++;
      if (!isDigit(t.charCodeAt(i))) {
        this.pos = i;
        this.fail('invalid number');
      }
      while (isDigit(t.charCodeAt(i))) i++;
      isFloat = true;
    }
    this.pos = i;
    const lit = t.slice(start, i);
    if (!isFloat) {
      if (lit === '-0') return -0; // serde_json: "-0" is the float -0.0
      return BigInt(lit);
    }
    const n = Number(lit);
    if (!Number.isFinite(n)) {
      this.pos = start;
      this.fail('number out of range');
    }
    return n;
  }

  string(): string {
    const t = this.text;
    this.pos++; // opening quote
    let out = '';
    let chunkStart = this.pos;
    for (;;) {
      const i = this.pos;
      if (i >= t.length) this.fail('EOF while parsing a string');
      const c = t.charCodeAt(i);
      if (c === 0x22) {
        out += t.slice(chunkStart, i);
        this.pos = i + 1;
        return out;
      }
      if (c === 0x5c) {
        out += t.slice(chunkStart, i);
        out += this.escape();
        chunkStart = this.pos;
        continue;
      }
      if (c < 0x20) this.fail('control character (\\u0000-\\u001F) found while parsing a string');
      if (c >= 0xd800 && c <= 0xdfff) {
        // Raw surrogates must form a pair (Rust strings cannot hold lone surrogates).
        const next = t.charCodeAt(i + 1);
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          this.pos = i + 2;
          continue;
        }
        this.fail('lone surrogate in string');
      }
      this.pos = i + 1;
    }
  }

  private escape(): string {
    const t = this.text;
    const c = t.charCodeAt(this.pos + 1);
    this.pos += 2;
    switch (c) {
      case 0x22:
        return '"';
      case 0x5c:
        return '\\';
      case 0x2f:
        return '/';
      case 0x62:
        return '\b';
      case 0x66:
        return '\f';
      case 0x6e:
        return '\n';
      case 0x72:
        return '\r';
      case 0x74:
        return '\t';
      case 0x75: {
        const hi = this.hex4();
        if (hi >= 0xdc00 && hi <= 0xdfff) this.fail('lone trailing surrogate in hex escape');
        if (hi < 0xd800 || hi > 0xdbff) return String.fromCharCode(hi);
        if (t.charCodeAt(this.pos) !== 0x5c || t.charCodeAt(this.pos + 1) !== 0x75) {
          this.fail('lone leading surrogate in hex escape');
        }
        this.pos += 2;
        const lo = this.hex4();
        if (lo < 0xdc00 || lo > 0xdfff) this.fail('lone leading surrogate in hex escape');
        return String.fromCharCode(hi, lo);
      }
      default:
        this.pos -= 1;
        return this.fail('invalid escape');
    }
  }

  private hex4(): number {
    const t = this.text;
    if (this.pos + 4 > t.length) this.fail('EOF while parsing a string');
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = t.charCodeAt(this.pos + k);
      let d: number;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
      else {
        this.pos += k;
        return this.fail('invalid escape');
      }
      v = v * 16 + d;
    }
    this.pos += 4;
    return v;
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
