import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import {
  parseMessageText,
  parseRumorContent,
  serializeMessage,
  serializeRumorContent,
} from '../../../src/protocol/index.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** Copies of spec/vectors (checked against the real mostro-core 0.8.0 serde types). */
function lines(file: string): string[] {
  return readFileSync(join(FIXTURES, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
}

void describe('serde-canonical.jsonl', () => {
  void test('every line: parse → serialize is byte-identical', () => {
    const all = lines('serde-canonical.jsonl');
    assert.equal(all.length, 3000);
    const failures: string[] = [];
    for (const line of all) {
      try {
        const out = serializeMessage(parseMessageText(line));
        if (out !== line) failures.push(`mismatch:\n  in : ${line}\n  out: ${out}`);
      } catch (e) {
        failures.push(`error ${(e as Error).message}:\n  ${line}`);
      }
    }
    assert.deepEqual(failures.slice(0, 5), []);
  });
});

void describe('captured-live.jsonl', () => {
  void test('every captured message round-trips byte for byte', () => {
    const all = lines('captured-live.jsonl');
    assert.equal(all.length, 22);
    let rumors = 0;
    for (const line of all) {
      const rec = JSON.parse(line) as { rumor_content?: string; message?: string };
      if (rec.rumor_content !== undefined) {
        rumors++;
        const rc = parseRumorContent(rec.rumor_content);
        assert.equal(serializeRumorContent(rc.message, rc.signature), rec.rumor_content);
        assert.equal(serializeMessage(rc.message), rc.rawMessageText);
      } else {
        assert.ok(rec.message !== undefined);
        assert.equal(serializeMessage(parseMessageText(rec.message)), rec.message);
      }
    }
    assert.ok(rumors > 0);
  });
});
