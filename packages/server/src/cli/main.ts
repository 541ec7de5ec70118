#!/usr/bin/env node
import path from 'node:path';
import { Command, Option } from 'commander';
import { ConfigError, envNameOf, loadConfig, type Config, type ConfigInput } from '../config.js';
import { createKey } from '../keys/key-admin.js';
import { startServer } from '../server.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';

const program = new Command('runlet').description('Runlet: a self-hosted runtime for workflow services.').showHelpAfterError();

/** The flags of the server commands: each sets one config key and has an environment variable too. */
const SERVER_FLAGS: [flags: string, key: keyof Config, description: string][] = [
  ['--host <host>', 'host', 'address to listen on (default 127.0.0.1)'],
  ['--port <port>', 'port', 'port to listen on, 0 for any free one (default 8080)'],
  ['--data <dir>', 'dataDir', 'data folder for the embedded store (default .runlet)'],
  ['--services <dir>', 'servicesDir', 'folder of services (default services; examples/services for dev)'],
  ['--database <url>', 'database', 'PostgreSQL URL shared by several nodes (also DATABASE_URL); default: SQLite in the data folder'],
  ['--database-pool-size <n>', 'databasePoolSize', 'PostgreSQL connections per node (default 10)'],
  ['--public-url <url>', 'publicUrl', 'base URL clients and workers use, when behind a proxy'],
  ['--sync-timeout <seconds>', 'syncTimeoutSeconds', 'sync calls answer 504 after this (default 120)'],
  ['--run-timeout <seconds>', 'runTimeoutSeconds', 'every run is stopped after this (default 1800)'],
  ['--lease-seconds <seconds>', 'leaseSeconds', "how soon a dead node's runs are taken over (default 30)"],
  ['--shutdown-grace <seconds>', 'shutdownGraceSeconds', 'on SIGTERM, how long runs in flight may take to finish (default 10)'],
  ['--body-limit <bytes>', 'bodyLimitBytes', 'largest request body (default 10 MiB)'],
  ['--max-workers <n>', 'maxWorkersPerService', 'workers (calls at once) per service (default 4)'],
  ['--min-warm <n>', 'minWarmWorkers', 'workers kept warm per service (default 1)'],
  ['--max-queued <n>', 'maxQueuedPerService', 'sync calls that may wait per service before 429 (default 1000)'],
  ['--log-level <level>', 'logLevel', 'server log level (default info)'],
  ['--files-backend <kind>', 'filesBackend', 'where uploaded files live: local or s3 (default local)'],
  ['--files-dir <dir>', 'filesDir', 'local file storage (default <data>/files)'],
  ['--max-file-size <bytes>', 'maxFileSizeBytes', 'largest file (default 5 GiB)'],
  ['--account-quota <bytes>', 'accountQuotaBytes', 'stored bytes per account, 0 for no quota (default 50 GiB)'],
  ['--s3-bucket <name>', 's3Bucket', 'bucket for --files-backend s3 (credentials: RUNLET_S3_ACCESS_KEY_ID and RUNLET_S3_SECRET_ACCESS_KEY, or the AWS chain)'],
  ['--s3-endpoint <url>', 's3Endpoint', 'S3-compatible endpoint (default: AWS)'],
  ['--s3-region <region>', 's3Region', 'S3 region (default us-east-1)'],
];

function serverCommand(name: string, description: string): Command {
  const cmd = program.command(name).description(description);
  for (const [flags, key, help] of SERVER_FLAGS) cmd.addOption(new Option(flags, help).env(envNameOf(key)));
  return cmd;
}

/** Flags given on the command line (commander has already folded in their environment variables). */
function configFrom(cmd: Command, defaults: ConfigInput): Config {
  const given: Record<string, unknown> = {};
  for (const [flags, key] of SERVER_FLAGS) {
    const value = cmd.getOptionValue(new Option(flags).attributeName());
    if (value !== undefined) given[key] = value;
  }
  return loadConfig({ ...defaults, ...given });
}

async function serve(config: Config, dev: boolean): Promise<void> {
  const server = await startServer(config);
  if (dev) {
    const store = server.runtime.store;
    const account = await store.defaultAccount();
    const { key } = await createKey(store, account.id, 'standard', `dev ${new Date().toISOString()}`);
    const services = server.runtime.registry.list().map((e) => e.spec.id).join(', ') || '(none)';
    process.stdout.write(
      [
        '',
        `  Runlet is running at ${server.url}`,
        `  services (${path.relative(process.cwd(), config.servicesDir) || '.'}): ${services}`,
        `  API key: ${key}`,
        `  dashboard: open ${server.url}/ and sign in with the API key`,
        '',
        `  curl -X POST ${server.url}/run/echo -H "Authorization: Bearer ${key}" -H "Content-Type: application/json" -d '{"hello": "world"}'`,
        '',
      ].join('\n') + '\n',
    );
  }
  // The first signal drains (see Runtime.drain); a second one finds no handler and ends the
  // process at once, which loses nothing acknowledged: the next start recovers what was in flight.
  const stop = (signal: string) => {
    server.app.log.info({ signal, graceSeconds: config.shutdownGraceSeconds }, 'shutting down: refusing new runs, draining those in flight');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        server.app.log.error({ err }, 'could not shut down cleanly');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

// Dev mode: callbacks may reach a receiver on this machine (never other private addresses).
const devDefaults: ConfigInput = { servicesDir: 'examples/services', watch: true, logLevel: 'warn', callbackAllowedNetworks: ['127.0.0.0/8', '::1/128'] };
serverCommand('dev', 'run on the embedded store, watching the services folder; prints the URL and a new API key').action((_options, cmd: Command) =>
  serve(configFrom(cmd, devDefaults), true),
);
serverCommand('serve', 'run in production: every setting from flags or RUNLET_* environment variables').action((_options, cmd: Command) =>
  serve(configFrom(cmd, {}), false),
);

const keys = program.command('keys').description('manage API keys of the default account');
const withStore = async <T>(options: { data?: string; database?: string }, fn: (store: Store) => Promise<T>): Promise<T> => {
  const config = loadConfig({ dataDir: options.data, database: options.database });
  const store = await openStore(config);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
};
const dataOption = () => new Option('--data <dir>', 'data folder (default .runlet)').env(envNameOf('dataDir'));
const databaseOption = () => new Option('--database <url>', 'PostgreSQL URL, when the runtime uses one').env('DATABASE_URL');
keys
  .command('create')
  .description('create a key; its secret is printed once and never stored')
  .option('--one-time', 'a cwotk- key, spent by the first run it starts')
  .option('--name <name>', 'a name to recognise it by')
  .addOption(dataOption())
  .addOption(databaseOption())
  .action((options: { oneTime?: boolean; name?: string; data?: string; database?: string }) =>
    withStore(options, async (store) => {
      const account = await store.defaultAccount();
      const { key, record } = await createKey(store, account.id, options.oneTime ? 'one_time' : 'standard', options.name ?? null);
      process.stdout.write(`${key}\n`);
      process.stderr.write(`created ${record.kind === 'one_time' ? 'one-time ' : ''}key ${record.id} (${record.prefix}…); the secret above is shown only now\n`);
    }),
  );
keys
  .command('list')
  .description('list keys (never their secrets)')
  .option('--json', 'as JSON')
  .addOption(dataOption())
  .addOption(databaseOption())
  .action((options: { json?: boolean; data?: string; database?: string }) =>
    withStore(options, async (store) => {
      const list = await store.listApiKeys((await store.defaultAccount()).id);
      if (options.json) return void process.stdout.write(JSON.stringify(list, null, 2) + '\n');
      for (const k of list) {
        const state = k.revokedAt ? 'revoked' : k.spentAt ? `spent on ${k.spentRunId}` : 'active';
        process.stdout.write(`${k.id}  ${k.prefix}…  ${k.kind.padEnd(8)}  ${state.padEnd(10)}  ${k.name ?? ''}\n`);
      }
    }),
  );
keys
  .command('revoke <idOrPrefix>')
  .description('revoke a key by id or by its displayed prefix; it is refused at once')
  .addOption(dataOption())
  .addOption(databaseOption())
  .action((idOrPrefix: string, options: { data?: string; database?: string }) =>
    withStore(options, async (store) => {
      const revoked = await store.revokeApiKey((await store.defaultAccount()).id, idOrPrefix, Date.now());
      if (!revoked) {
        process.stderr.write(`no single key matches "${idOrPrefix}"\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`revoked ${revoked.id} (${revoked.prefix}…)\n`);
    }),
  );

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`runlet: ${err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
