/** `runlet dev` prints its log for a person: a line per entry, the error's text below it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDevLine } from '../../src/cli/dev-log.js';

const at = new Date(2026, 10, 30, 9, 5, 7, 42).getTime();
const line = (entry: object) => JSON.stringify({ pid: 1, hostname: 'h', time: at, ...entry });

test('an entry is its time, level and message, then its other fields; pid and host are left out', () => {
  assert.equal(formatDevLine(line({ level: 30, msg: 'services loaded', added: ['echo'], node: 'n1' })), '09:05:07.042 info  services loaded (added=["echo"] node=n1)');
  assert.equal(formatDevLine(line({ level: 40, msg: 'no fields' })), '09:05:07.042 warn  no fields');
});

test("an error's text goes below, indented, line breaks kept; a serialised error shows its stack", () => {
  assert.equal(
    formatDevLine(line({ level: 40, msg: 'a worker failed to start', err: 'service "x" failed to start\n/srv/x.ts:2\nboom' })),
    '09:05:07.042 warn  a worker failed to start\n    service "x" failed to start\n    /srv/x.ts:2\n    boom',
  );
  assert.equal(
    formatDevLine(line({ level: 50, msg: 'could not write log lines', err: { type: 'Error', message: 'disk full', stack: 'Error: disk full\n    at write (store.ts:1:1)' } })),
    '09:05:07.042 error could not write log lines\n    Error: disk full\n        at write (store.ts:1:1)',
  );
});

test('a line that is not JSON passes through as it is', () => {
  assert.equal(formatDevLine('plain text\n'), 'plain text');
});
