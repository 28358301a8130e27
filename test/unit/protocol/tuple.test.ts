/**
 * scanTuple (the crypto worker's way to find the tuple's parts without parsing the Message) must
 * agree with parseRumorContent / parseDirectContent on every text they accept: the same raw
 * message text, signature and identity proof. Checked over the wire vectors (3,000 canonical
 * messages, the captured live tuples), in several JSON layouts, and over strings that look like
 * structure.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseDirectContent } from '../../../src/protocol/direct.js';
import { parseRumorContent } from '../../../src/protocol/parse.js';
import { scanTuple } from '../../../src/protocol/tuple.js';

const fixtures = new URL('./fixtures/', import.meta.url);
const lines = (name: string): string[] => readFileSync(new URL(name, fixtures), 'utf8').split('\n').filter((l) => l.trim() !== '');

const SIG = 'ab'.repeat(64);
const PK = 'cd'.repeat(32);

/** scanTuple agrees with the parser on `text` when the parser accepts it; returns whether it did. */
function agrees(text: string, arity: 2 | 3): boolean {
  let parsed;
  try {
    parsed = arity === 2 ? { ...parseRumorContent(text), identityProof: null } : parseDirectContent(text);
  } catch {
    // refused by the parse gate: whatever the scan says is never used for a verdict
    scanTuple(text, arity);
    return false;
  }
  const t = scanTuple(text, arity);
  assert.ok(t !== null, `scanned: ${text.slice(0, 120)}`);
  assert.equal(text.slice(t.start, t.end), parsed.rawMessageText);
  assert.equal(t.signature, parsed.signature);
  assert.deepEqual(t.identityProof, parsed.identityProof);
  return true;
}

/** The message text in tuples of both arities and several layouts. */
function tuples(message: string): Array<[string, 2 | 3]> {
  return [
    [`[${message},null]`, 2],
    [`[${message},"${SIG}"]`, 2],
    [` [\n\t${message} ,\r\n "${SIG.toUpperCase()}" ] \n`, 2],
    [`[${message},"${SIG}",["${PK}","${SIG}"]]`, 3],
    [`[${message},null,null]`, 3],
    [`[ ${message} , null , [ "${PK}" , "${SIG}" ] ]`, 3],
  ];
}

void describe('scanTuple', () => {
  void test('agrees with the parser over the 3,000 canonical vectors, in six tuple layouts', () => {
    let accepted = 0;
    for (const message of lines('serde-canonical.jsonl')) {
      for (const [text, arity] of tuples(message)) if (agrees(text, arity)) accepted++;
    }
    assert.ok(accepted >= 3000 * 6 * 0.9, `${accepted} tuples accepted by the parser`);
  });

  void test('agrees with the parser on the tuples captured from live clients', () => {
    let accepted = 0;
    for (const l of lines('captured-live.jsonl')) {
      const rec = JSON.parse(l) as { rumor_content?: string };
      if (rec.rumor_content !== undefined && agrees(rec.rumor_content, 2)) accepted++;
    }
    assert.ok(accepted >= 15, `${accepted} live tuples`);
  });

  void test('strings that look like structure, escapes, nesting', () => {
    const tricky = [
      '"]]},[{\\"\\\\"',
      'a\\"b',
      '\\\\',
      '\\u005d\\u007d',
      '{[(,)]}',
      '\\"],"',
    ];
    let accepted = 0;
    for (const s of tricky) {
      const message = `{"order":{"version":1,"request_id":1,"trade_index":null,"action":"new-order","payload":{"text_message":"${s}"}}}`;
      for (const [text, arity] of tuples(message)) if (agrees(text, arity)) accepted++;
    }
    assert.ok(accepted > 0, 'some accepted');
  });

  void test('what is not a tuple of the arity is not found', () => {
    const m = '{"order":{"version":1,"request_id":1,"trade_index":null,"action":"new-order","payload":null}}';
    for (const text of ['', '[]', `[${m}]`, `[${m},null,null]`, `[${m},null`, `[${m},null]x`, `[${m},"xyz"]`, `[${m},12]`, `{${m}}`, `[${m},null,]`, `[${m}"x",null]`]) {
      assert.equal(scanTuple(text, 2), null, text);
    }
    assert.equal(scanTuple(`[${m},null]`, 3), null);
    assert.equal(scanTuple(`[${m},null,["${PK}"]]`, 3), null);
    assert.deepEqual(scanTuple(`[${m},null]`, 2), { start: 1, end: 1 + m.length, signature: null, identityProof: null });
  });
});
