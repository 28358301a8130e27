import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import {
  ProtocolError,
  parseJson,
  parseMessageText,
  parseRumorContent,
  serializeMessage,
  normalizeUuid,
  type Message,
} from '../../../src/protocol/index.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const ORDER_ID = 'ede61c96-4c13-4519-bf3a-dcf7f1e9d842';

const SMALL_ORDER =
  '{"kind":"sell","status":"pending","amount":0,"fiat_code":"VES","min_amount":null,"max_amount":null,' +
  '"fiat_amount":100,"payment_method":"face to face","premium":1,"created_at":0,"expires_at":null}';

function msg(kindBody: string, wrapper = 'order'): string {
  return `{"${wrapper}":{${kindBody}}}`;
}

function rejects(text: string, pattern?: RegExp): void {
  assert.throws(
    () => parseMessageText(text),
    (e: unknown) => {
      assert.ok(e instanceof ProtocolError, `expected ProtocolError, got ${String(e)}`);
      if (pattern) assert.match(e.message, pattern);
      return true;
    },
  );
}

void describe('PROTOCOL.md message examples', () => {
  void test('every complete example round-trips byte for byte', () => {
    const examples = readFileSync(join(FIXTURES, 'protocol-examples.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    assert.ok(examples.length >= 28);
    for (const ex of examples) assert.equal(serializeMessage(parseMessageText(ex)), ex);
  });

  void test('the rumor content example of §2.2 parses and keeps the raw message text', () => {
    const inner = `{"order":{"version":1,"request_id":3876325412,"trade_index":3,"id":"${ORDER_ID}","action":"take-sell","payload":null}}`;
    const sig = 'AB'.repeat(64);
    const rc = parseRumorContent(`[ ${inner} , "${sig}" ]`);
    assert.equal(rc.rawMessageText, inner);
    assert.equal(rc.signature, sig.toLowerCase());
    assert.equal(rc.message.kind.action, 'take-sell');
    assert.equal(rc.message.kind.request_id, 3876325412n);
    assert.equal(rc.message.kind.trade_index, 3n);
  });
});

void describe('lossless integers', () => {
  void test('u64 request_id above 2^53 and i64 extremes are exact', () => {
    const text = msg(
      `"version":1,"request_id":18446744073709551615,"trade_index":-9223372036854775808,"action":"orders","payload":{"ids":[]}`,
    );
    const m = parseMessageText(text);
    assert.equal(m.kind.request_id, 18446744073709551615n);
    assert.equal(m.kind.trade_index, -9223372036854775808n);
    assert.equal(serializeMessage(m), text);
  });

  void test('out-of-range integers are refused', () => {
    rejects(msg(`"version":1,"request_id":18446744073709551616,"trade_index":null,"action":"cancel"`), /u64/);
    rejects(msg(`"version":1,"request_id":-1,"trade_index":null,"action":"cancel"`), /u64/);
    rejects(msg(`"version":256,"request_id":null,"trade_index":null,"action":"cancel"`), /u8/);
    rejects(msg(`"version":1,"request_id":null,"trade_index":9223372036854775808,"action":"cancel"`), /i64/);
    rejects(msg(`"version":1,"action":"rate-user","payload":{"rating_user":256}`), /u8/);
    rejects(msg(`"version":1,"action":"fiat-sent","payload":{"next_trade":["ab",4294967296]}`), /u32/);
  });

  void test('floats where integers are required are refused (including -0 and 1e2)', () => {
    rejects(msg(`"version":1.0,"action":"cancel"`));
    rejects(msg(`"version":1,"request_id":-0,"action":"cancel"`));
    rejects(msg(`"version":1,"action":"take-sell","payload":{"amount":1e2}`));
  });
});

void describe('MessageKind fields', () => {
  void test('missing optional fields become null / omitted; unknown fields are ignored', () => {
    const m = parseMessageText(msg(`"version":2,"action":"restore-session","extra":{"x":[1,2]}`, 'restore'));
    assert.deepEqual(m, {
      wrapper: 'restore',
      kind: { version: 2, request_id: null, trade_index: null, action: 'restore-session', payload: null },
    } satisfies Message);
    assert.equal(
      serializeMessage(m),
      '{"restore":{"version":2,"request_id":null,"trade_index":null,"action":"restore-session","payload":null}}',
    );
  });

  void test('an explicit null id is omitted on output', () => {
    const m = parseMessageText(msg(`"version":1,"request_id":null,"trade_index":null,"id":null,"action":"cancel","payload":null`));
    assert.equal(m.kind.id, undefined);
    assert.ok(!serializeMessage(m).includes('"id"'));
  });

  void test('version and action are required', () => {
    rejects(msg(`"request_id":1,"action":"cancel"`), /version/);
    rejects(msg(`"version":1,"request_id":1`), /action/);
  });

  void test('unknown action is refused', () => {
    rejects(msg(`"version":1,"action":"pay-bond-invoice","payload":null`), /unknown action/);
  });

  void test('serde sequence form of MessageKind is accepted with exact arity', () => {
    const m = parseMessageText(`{"order":[1,7,null,"${ORDER_ID.toUpperCase()}","cancel",null]}`);
    assert.equal(
      serializeMessage(m),
      `{"order":{"version":1,"request_id":7,"trade_index":null,"id":"${ORDER_ID}","action":"cancel","payload":null}}`,
    );
    rejects(`{"order":[1,7,null,"${ORDER_ID}","cancel"]}`, /6 elements/);
  });

  void test('unit enums accept the {"variant":null} map form', () => {
    const m = parseMessageText(msg(`"version":1,"action":{"cancel":null},"id":"${ORDER_ID}"`));
    assert.equal(m.kind.action, 'cancel');
  });
});

void describe('wrapper and payload tagging', () => {
  void test('wrapper must be exactly one known key', () => {
    rejects('{}');
    rejects(`{"order":{"version":1,"action":"cancel"},"dispute":{"version":1,"action":"cancel"}}`, /exactly one key/);
    rejects(`{"trade":{"version":1,"action":"cancel"}}`, /unknown message variant/);
    rejects(`"order"`);
  });

  void test('payload must be exactly one known key', () => {
    rejects(msg(`"version":1,"action":"take-sell","payload":{}`), /exactly one key/);
    rejects(msg(`"version":1,"action":"take-sell","payload":{"amount":1,"text_message":"x"}`), /exactly one key/);
    rejects(msg(`"version":1,"action":"take-sell","payload":{"bond":1}`), /unknown payload variant/);
    rejects(msg(`"version":1,"action":"take-sell","payload":"amount"`));
  });

  void test('payment_request needs exactly 3 elements', () => {
    rejects(msg(`"version":1,"id":"${ORDER_ID}","action":"add-invoice","payload":{"payment_request":[null,"lnbc1"]}`));
    rejects(
      msg(`"version":1,"id":"${ORDER_ID}","action":"add-invoice","payload":{"payment_request":[null,"lnbc1",null,null]}`),
    );
    const ok = msg(`"version":1,"request_id":null,"trade_index":null,"id":"${ORDER_ID}","action":"add-invoice","payload":{"payment_request":[null,"lnbc1",null]}`);
    assert.equal(serializeMessage(parseMessageText(ok)), ok);
  });

  void test('dispute is a 2-tuple, next_trade is [string, u32]', () => {
    rejects(msg(`"version":1,"id":"${ORDER_ID}","action":"dispute-initiated-by-you","payload":{"dispute":"${ORDER_ID}"}`));
    rejects(msg(`"version":1,"id":"${ORDER_ID}","action":"dispute-initiated-by-you","payload":{"dispute":["${ORDER_ID}"]}`));
    rejects(msg(`"version":1,"id":"${ORDER_ID}","action":"fiat-sent","payload":{"next_trade":["ab"]}`));
    rejects(msg(`"version":1,"id":"${ORDER_ID}","action":"fiat-sent","payload":{"next_trade":[1,2]}`));
  });

  void test('SmallOrder refuses unknown fields and requires amount, fiat_code, fiat_amount, payment_method, premium', () => {
    const withExtra = SMALL_ORDER.replace('"premium":1', '"premium":1,"name":"alice"');
    rejects(msg(`"version":1,"action":"new-order","payload":{"order":${withExtra}}`), /name/);
    for (const field of ['amount', 'fiat_code', 'fiat_amount', 'payment_method', 'premium']) {
      const without = JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(SMALL_ORDER)).filter(([k]) => k !== field)));
      rejects(msg(`"version":1,"action":"new-order","payload":{"order":${without}}`), new RegExp(field));
    }
    const minimal = '{"amount":0,"fiat_code":"USD","fiat_amount":5,"payment_method":"x","premium":0}';
    const m = parseMessageText(msg(`"version":1,"action":"new-order","payload":{"order":${minimal}}`));
    assert.equal(
      serializeMessage(m),
      '{"order":{"version":1,"request_id":null,"trade_index":null,"action":"new-order","payload":{"order":{"kind":null,"status":null,"amount":0,"fiat_code":"USD","min_amount":null,"max_amount":null,"fiat_amount":5,"payment_method":"x","premium":0,"created_at":null,"expires_at":null}}}}',
    );
  });

  void test('SmallOrder refuses bad enum values', () => {
    rejects(msg(`"version":1,"action":"new-order","payload":{"order":${SMALL_ORDER.replace('"sell"', '"Sell"')}}`), /kind/);
    rejects(
      msg(`"version":1,"action":"new-order","payload":{"order":${SMALL_ORDER.replace('"pending"', '"open"')}}`),
      /status/,
    );
  });
});

void describe('UUIDs', () => {
  void test('the forms the uuid crate accepts are normalised to lowercase hyphenated', () => {
    const forms = [
      ORDER_ID,
      ORDER_ID.toUpperCase(),
      ORDER_ID.replace(/-/g, ''),
      `{${ORDER_ID}}`,
      `urn:uuid:${ORDER_ID}`,
    ];
    for (const f of forms) {
      assert.equal(normalizeUuid(f), ORDER_ID, f);
      const m = parseMessageText(msg(`"version":1,"id":"${f}","action":"cancel"`));
      assert.equal(m.kind.id, ORDER_ID);
    }
  });

  void test('bad UUIDs are refused', () => {
    for (const bad of [
      'not-a-uuid',
      ORDER_ID.slice(0, 35),
      `${ORDER_ID}0`,
      ORDER_ID.replace('e', 'g'),
      `URN:UUID:${ORDER_ID}`,
      `{${ORDER_ID.replace(/-/g, '')}}`,
      'ede61c964c13-4519-bf3a-dcf7f1e9d842-',
    ]) {
      assert.equal(normalizeUuid(bad), null, bad);
      rejects(msg(`"version":1,"id":"${bad}","action":"cancel"`), /UUID/);
    }
    rejects(msg(`"version":1,"id":12,"action":"cancel"`));
  });
});

void describe('JSON syntax (serde_json rules)', () => {
  void test('duplicate keys are refused', () => {
    rejects(`{"order":{"version":1,"version":1,"action":"cancel"}}`, /duplicate key/);
  });

  void test('trailing garbage is refused, surrounding whitespace is fine', () => {
    rejects(`{"order":{"version":1,"action":"cancel"}}x`, /trailing/);
    rejects(`{"order":{"version":1,"action":"cancel"}}}`, /trailing/);
    assert.equal(parseMessageText(` \n{"order":{"version":1,"action":"cancel"}}\t\r\n`).kind.action, 'cancel');
  });

  void test('deeply nested input is refused before recursion gets deep', () => {
    const deep = `{"order":{"version":1,"action":"cancel","x":${'['.repeat(200)}${']'.repeat(200)}}}`;
    rejects(deep, /recursion limit/);
    assert.throws(() => parseJson('['.repeat(100000)), /recursion limit/);
    // 120 levels of ignored content is still fine (serde_json allows up to 127).
    const ok = `{"order":{"version":1,"action":"cancel","x":${'['.repeat(120)}${']'.repeat(120)}}}`;
    assert.equal(parseMessageText(ok).kind.action, 'cancel');
  });

  void test('strings: escapes, control characters and surrogates', () => {
    assert.equal(parseJson('"a\\u00e9\\ud83d\\ude00\\/\\n"'), 'aé😀/\n');
    assert.throws(() => parseJson('"\\ud83d"'), /lone leading surrogate/);
    assert.throws(() => parseJson('"\\ud83dx"'), /lone leading surrogate/);
    assert.throws(() => parseJson('"\\ude00"'), /lone trailing surrogate/);
    assert.throws(() => parseJson('"a\u0001b"'), /control character/);
    assert.throws(() => parseJson('"\\x41"'), /invalid escape/);
    assert.throws(() => parseJson('"\ud800"'), /lone surrogate/);
  });

  void test('numbers follow JSON grammar; overflowing floats are refused', () => {
    assert.equal(parseJson('12345678901234567890123'), 12345678901234567890123n);
    assert.equal(parseJson('-1.5e3'), -1500);
    assert.ok(Object.is(parseJson('-0'), -0));
    for (const bad of ['01', '1.', '.5', '+1', '1e', '-', '0x10', 'NaN', 'Infinity', '1e400']) {
      assert.throws(() => parseJson(bad), ProtocolError, bad);
    }
  });

  void test('a "__proto__" key becomes an own property, not a prototype', () => {
    const v = parseJson('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    assert.ok(Object.prototype.hasOwnProperty.call(v, '__proto__'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

void describe('rumor content', () => {
  const inner = `{"order":{"version":1,"request_id":1,"trade_index":null,"id":"${ORDER_ID}","action":"cancel","payload":null}}`;

  void test('wrong tuple arity is refused', () => {
    assert.throws(() => parseRumorContent(`[${inner}]`), /2-element/);
    assert.throws(() => parseRumorContent(`[${inner},null,null]`), /2-element/);
    assert.throws(() => parseRumorContent(inner), /array/);
  });

  void test('signature must be null or 128 hex characters', () => {
    assert.equal(parseRumorContent(`[${inner},null]`).signature, null);
    assert.throws(() => parseRumorContent(`[${inner},"${'a'.repeat(126)}"]`), /signature/);
    assert.throws(() => parseRumorContent(`[${inner},"${'g'.repeat(128)}"]`), /signature/);
    assert.throws(() => parseRumorContent(`[${inner},7]`), /signature/);
  });

  void test('rawMessageText is the exact element-0 text even when not canonical', () => {
    const nonCanonical = `{"order":{"id":"${ORDER_ID.toUpperCase()}", "action":"cancel","version":1}}`;
    const rc = parseRumorContent(`[${nonCanonical},null]`);
    assert.equal(rc.rawMessageText, nonCanonical);
    assert.equal(
      serializeMessage(rc.message),
      `{"order":{"version":1,"request_id":null,"trade_index":null,"id":"${ORDER_ID}","action":"cancel","payload":null}}`,
    );
  });
});
