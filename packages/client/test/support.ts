import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, Socket, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConfigInput } from '../../server/src/config.js';
import { EXAMPLE_SERVICES, startTestServer, type TestServer } from '../../server/test/helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CLIENT_FIXTURES = path.join(here, 'fixtures', 'services');
export const REPO = path.resolve(here, '../../..');

/**
 * A real server whose services are the example services and the client's fixtures side by side
 * (a folder of links to both), so the seed examples and the client tests share one server.
 */
export async function startClientServer(overrides: ConfigInput = {}): Promise<TestServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runlet-client-services-'));
  for (const root of [EXAMPLE_SERVICES, CLIENT_FIXTURES]) {
    for (const name of safeList(root)) {
      if (name.startsWith('.') || name.startsWith('_') || /\.(test|spec|d)\.[mc]?[jt]s$/.test(name) || name === 'node_modules') continue;
      try {
        symlinkSync(path.join(root, name), path.join(dir, name));
      } catch {
        // A name in both folders: the example service wins.
      }
    }
  }
  const server = await startTestServer({ servicesDir: dir, ...overrides });
  const close = server.close;
  return Object.assign(server, {
    close: async () => {
      await close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Names of the example services present now (another part of the project writes them). */
export function exampleServices(): string[] {
  return safeList(EXAMPLE_SERVICES).map((n) => n.replace(/\.[mc]?[jt]s$/, ''));
}

/**
 * A TCP proxy in front of a server, to cut connections on purpose: `cutAll()` destroys every
 * open connection (as a network failure would), and `requests` records each request line.
 */
export interface CuttingProxy {
  url: string;
  requests: string[];
  cutAll(): void;
  close(): Promise<void>;
}

export async function startCuttingProxy(target: string): Promise<CuttingProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  const server: Server = createServer((client) => {
    const upstream = new Socket();
    upstream.connect(Number(port), hostname);
    sockets.add(client);
    sockets.add(upstream);
    let head = '';
    client.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      let nl: number;
      while ((nl = head.indexOf('\r\n')) >= 0) {
        const line = head.slice(0, nl);
        head = head.slice(nl + 2);
        if (/^(GET|POST|PUT|PATCH|DELETE|HEAD) \S+ HTTP\/1\.[01]$/.test(line)) requests.push(line.replace(/ HTTP\/1\.[01]$/, ''));
      }
      if (head.length > 8192) head = head.slice(-8192);
    });
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    cutAll: () => {
      for (const s of sockets) s.resetAndDestroy();
      sockets.clear();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface ExampleRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment an example gets: only a key and the server's address, as a user would set them. */
export function exampleEnv(server: { url: string; key: string }, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CODEWORDS_API_KEY: server.key, RUNLET_URL: server.url, CODEWORDS_RUNTIME_URI: server.url, PYTHONPATH: path.join(REPO, 'python'), PYTHONDONTWRITEBYTECODE: '1', ...extra };
  delete env.NEXT_PUBLIC_RUNTIME_URI;
  delete env.RUNLET_API_KEY;
  return env;
}

/** Runs an example to its end. */
export function runExample(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<ExampleRun> {
  const child = spawn(command, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Starts a long-running example (a web app) and waits for the line that says it listens. */
export async function startExample(command: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<{ child: ChildProcess; output: () => string; stop(): Promise<void> }> {
  const child = spawn(command, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (ready.test(output)) return resolve();
      if (child.exitCode !== null) return reject(new Error(`${args.join(' ')} exited: ${output}`));
      setTimeout(check, 25);
    };
    check();
  });
  return {
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null) return;
      const closed = new Promise((r) => child.once('close', r));
      child.kill('SIGTERM');
      await closed;
    },
  };
}

export const TSX = ['--import', 'tsx'];
