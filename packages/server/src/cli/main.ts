#!/usr/bin/env node
import path from 'node:path';
import { Command, Option } from 'commander';
import { ConfigError, envNameOf, loadConfig, type Config, type ConfigInput } from '../config.js';
import { randomBytes } from 'node:crypto';
import { createAccount, createUser } from '../accounts/administration.js';
import { CLI_ACTOR } from '../accounts/audit.js';
import { KeyManagement } from '../accounts/key-management.js';
import { createKey } from '../keys/key-admin.js';
import { RunletError } from '../errors.js';
import { devLogStream } from './dev-log.js';
import { startServer } from '../server.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { VERSION } from '../version.js';

const program = new Command('runlet').description('Runlet: a self-hosted runtime for workflow services.').version(VERSION).showHelpAfterError();

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
  const server = await startServer(config, dev ? { logger: { level: config.logLevel, stream: devLogStream() } } : {});
  if (dev) {
    const store = server.runtime.store;
    const account = await store.defaultAccount();
    const { key } = await createKey(store, account.id, 'standard', `dev ${new Date().toISOString()}`);
    const ids = server.runtime.registry.list().map((e) => e.spec.id);
    const problems = server.runtime.registry.listProblems();
    // The example call names a service this folder has: echo when there is one.
    const example = ids.includes('echo') ? 'echo' : ids[0];
    process.stdout.write(
      [
        '',
        `  Runlet is running at ${server.url}`,
        `  services (${path.relative(process.cwd(), config.servicesDir) || '.'}): ${ids.join(', ') || '(none)'}`,
        ...problems.map((p) => `  cannot load ${p.id}: ${p.message}`),
        `  API key: ${key}`,
        `  dashboard: open ${server.url}/ and sign in with the API key`,
        ...setupLines(server.url, server.runtime.setupToken),
        ...(example
          ? ['', `  curl -X POST ${server.url}/run/${example} -H "Authorization: Bearer ${key}" -H "Content-Type: application/json" -d '{"hello": "world"}'`]
          : []),
        '',
      ].join('\n') + '\n',
    );
  }
  if (!dev && server.runtime.setupToken) process.stdout.write(setupLines(server.url, server.runtime.setupToken).join('\n') + '\n');
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

/** While nobody has signed up: the one-time link that makes the first administrator. */
function setupLines(url: string, token: string | undefined): string[] {
  if (!token) return [];
  return [`  first administrator: ${url}/setup?token=${token}`, '    (works once, for 24 hours; or run: runlet users create --email you@example.com --admin)'];
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
  .option('--account <id>', 'the account it belongs to (default: the default account)')
  .option('--service <id...>', 'the only services it may start runs of')
  .option('--expires-in <seconds>', 'refused after this many seconds')
  .addOption(dataOption())
  .addOption(databaseOption())
  .action((options: { oneTime?: boolean; name?: string; account?: string; service?: string[]; expiresIn?: string; data?: string; database?: string }) =>
    withStore(options, async (store) => {
      const accountId = await accountIdOf(store, options.account);
      const seconds = options.expiresIn === undefined ? undefined : Number(options.expiresIn);
      if (seconds !== undefined && !(seconds > 0)) throw new ConfigError('--expires-in must be a positive number of seconds');
      const { secret: key, record } = await new KeyManagement(store).create(CLI_ACTOR, accountId, {
        kind: options.oneTime ? 'one_time' : 'standard',
        name: options.name ?? null,
        services: options.service ?? null,
        expiresAt: seconds === undefined ? null : Date.now() + seconds * 1000,
      });
      process.stdout.write(`${key}\n`);
      process.stderr.write(`created ${record.kind === 'one_time' ? 'one-time ' : ''}key ${record.id} (${record.prefix}…); the secret above is shown only now\n`);
    }),
  );
keys
  .command('list')
  .description('list keys (never their secrets)')
  .option('--json', 'as JSON')
  .option('--account <id>', 'whose keys (default: the default account)')
  .addOption(dataOption())
  .addOption(databaseOption())
  .action((options: { json?: boolean; account?: string; data?: string; database?: string }) =>
    withStore(options, async (store) => {
      const list = await store.listApiKeys(await accountIdOf(store, options.account));
      if (options.json) return void process.stdout.write(JSON.stringify(list, null, 2) + '\n');
      for (const k of list) {
        const state = k.revokedAt ? 'revoked' : k.spentAt ? `spent on ${k.spentRunId}` : 'active';
        process.stdout.write(`${k.id}  ${k.prefix}…  ${k.kind.padEnd(8)}  ${state.padEnd(10)}  ${k.name ?? ''}\n`);
      }
    }),
  );
keys
  .command('revoke <idOrPrefix>')
  .description('revoke a key by id or by its displayed prefix; a running server refuses it within a second')
  .option('--account <id>', 'the account it belongs to (default: the default account)')
  .addOption(dataOption())
  .addOption(databaseOption())
  .action((idOrPrefix: string, options: { account?: string; data?: string; database?: string }) =>
    withStore(options, async (store) => {
      const revoked = await new KeyManagement(store).revoke(CLI_ACTOR, await accountIdOf(store, options.account), idOrPrefix).catch(() => undefined);
      if (!revoked) {
        process.stderr.write(`no single key matches "${idOrPrefix}"\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`revoked ${revoked.id} (${revoked.prefix}…)\n`);
    }),
  );

/** The account named by `--account`, which must exist; the default account without it. */
async function accountIdOf(store: Store, id: string | undefined): Promise<string> {
  if (!id) return (await store.defaultAccount()).id;
  if (!(await store.getAccount(id))) throw new ConfigError(`no account "${id}"`);
  return id;
}

const users = program.command('users').description('manage the people who sign in to the dashboard');
users
  .command('create')
  .description('create a user (the first one can also be made with the setup link printed at start)')
  .requiredOption('--email <email>', 'their sign-in email')
  .option('--admin', 'an administrator: manages accounts, users and reads the audit trail')
  .option('--account <id>', 'the account they work in (default: the default account)')
  .option('--password-stdin', 'read the password from standard input (else RUNLET_PASSWORD, else a generated one is printed)')
  .addOption(dataOption())
  .addOption(databaseOption())
  .action((options: { email: string; admin?: boolean; account?: string; passwordStdin?: boolean; data?: string; database?: string }) =>
    withStore(options, async (store) => {
      const email = options.email.trim().toLowerCase();
      const given = options.passwordStdin ? (await readStdin()).replace(/\r?\n$/, '') : process.env.RUNLET_PASSWORD;
      const password = given ?? randomBytes(12).toString('base64url');
      if (password.length < 8) throw new ConfigError('the password needs at least 8 characters');
      const user = await createUser(store, CLI_ACTOR, { email, password, role: options.admin ? 'admin' : 'member', accountId: await accountIdOf(store, options.account) });
      process.stdout.write(`created ${user.role} ${user.email} (${user.id})${given ? '' : `; password: ${password}`}\n`);
    }),
  );
users
  .command('list')
  .description('list users')
  .addOption(dataOption())
  .addOption(databaseOption())
  .action((options: { data?: string; database?: string }) =>
    withStore(options, async (store) => {
      for (const u of await store.directory.listUsers()) process.stdout.write(`${u.id}  ${u.email}  ${u.role}  ${u.accountId}\n`);
    }),
  );

program
  .command('accounts')
  .description('manage accounts')
  .command('create <name>')
  .description('create an account; add people with `users create --account`, keys with `keys create --account`')
  .addOption(dataOption())
  .addOption(databaseOption())
  .action((name: string, options: { data?: string; database?: string }) =>
    withStore(options, async (store) => {
      const account = await createAccount(store, CLI_ACTOR, name);
      process.stdout.write(`${account.id}\n`);
    }),
  );

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`runlet: ${err instanceof ConfigError || err instanceof RunletError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
