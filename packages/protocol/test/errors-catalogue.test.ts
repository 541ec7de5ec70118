import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { errorCatalogue } from '../src/errors.js';

const docs = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
const documented = new Map(
  [...docs.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])] as const),
);

test('every error code in the catalogue is documented with its status', () => {
  for (const [code, { status }] of Object.entries(errorCatalogue)) {
    assert.equal(documented.get(code), status, `docs/errors.md: ${code} should be documented with status ${status}`);
  }
});

test('docs/errors.md documents no code the catalogue lacks', () => {
  const extra = [...documented.keys()].filter((code) => !Object.hasOwn(errorCatalogue, code));
  assert.deepEqual(extra, []);
});

test('every status is an HTTP error status', () => {
  for (const [code, { status }] of Object.entries(errorCatalogue)) assert.ok(status >= 400 && status <= 599, code);
});
