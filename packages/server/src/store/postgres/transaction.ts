import type pg from 'pg';

/**
 * Runs `fn` in a transaction on a client of the pool, and gives the client back.
 *
 * While a client is checked out, pg's pool stops listening for its errors. If PostgreSQL drops
 * the connection (a restart, `pg_terminate_backend`), the client emits an `error` that nobody
 * handles, and the node crashes. Listening here keeps it what it is: the failure of the
 * statement that meets it, since pg fails every pending and later query of that client. A
 * broken client is destroyed on release, not handed to the next caller.
 */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => (broken ??= err);
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    if (!broken) await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}
