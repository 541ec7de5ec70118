/** Settings as the CLI and the environment give them, normalised once at start. */
import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'node:test';
import { loadConfig, withDefaultUser } from '../../src/config.js';

test('a PostgreSQL URL without a user name means the operating system user, as it does to psql', () => {
  const me = os.userInfo().username;
  assert.equal(withDefaultUser('postgres://127.0.0.1:5432/runlet', {}), `postgres://${me}@127.0.0.1:5432/runlet`);
  assert.equal(withDefaultUser('postgresql://db.internal/runlet?sslmode=require', {}), `postgresql://${me}@db.internal/runlet?sslmode=require`);
  // A user given in the URL or in PGUSER stays; a socket URL (no host) cannot carry one.
  assert.equal(withDefaultUser('postgres://runlet:secret@db.internal/runlet', {}), 'postgres://runlet:secret@db.internal/runlet');
  assert.equal(withDefaultUser('postgres://127.0.0.1/runlet', { PGUSER: 'ops' }), 'postgres://127.0.0.1/runlet');
  assert.equal(withDefaultUser('postgres:///runlet?host=/var/run/postgresql', {}), 'postgres:///runlet?host=/var/run/postgresql');
  assert.equal(loadConfig({ database: 'postgres://127.0.0.1/runlet' }, {}).database, `postgres://${me}@127.0.0.1/runlet`);
  assert.equal(loadConfig({}, { DATABASE_URL: 'postgres://127.0.0.1/runlet' }).database, `postgres://${me}@127.0.0.1/runlet`);
});
