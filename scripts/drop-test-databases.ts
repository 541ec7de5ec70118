/** Drops the PostgreSQL databases the test suite created (`runlet_test_*`), after a run or a crash. */
import pg from 'pg';

const admin = new pg.Client({ connectionString: process.env.RUNLET_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
await admin.connect();
const { rows } = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'runlet\\_test\\_%'");
for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
await admin.end();
if (rows.length) console.log(`# dropped ${rows.length} test databases`);
