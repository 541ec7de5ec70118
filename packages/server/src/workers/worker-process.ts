import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, type Dispatcher } from 'undici';
import { OUTPUT_LINES_HEADER, WorkerMessage, workerEnv, type LogLevel, type LogSource, type ServiceDescription } from '@runlet/protocol';
import { randomId } from '../ids.js';
import { LineSplitter } from './line-splitter.js';
import type { ServiceSpec } from './service-spec.js';
import type { HostSpares } from './host-spares.js';
import type { WorkerRegistry } from './worker-registry.js';

/** One line a worker produced: printed output, or a structured line from the SDK logger. */
export interface WorkerOutput {
  source: LogSource;
  level: LogLevel;
  message: string;
  fields?: Record<string, unknown>;
  timeMicros: number;
}

export interface WorkerStartOptions {
  spec: ServiceSpec;
  accountId: string;
  /** The worker's whole environment besides what the runtime itself adds: nothing is inherited. */
  env: Record<string, string>;
  startTimeoutMs: number;
  /** Where the process is recorded while it lives, so a runtime that dies can have it reaped. */
  registry?: WorkerRegistry;
  /** SDK hosts already started, waiting for a service. */
  spares?: HostSpares;
}

export class WorkerStartError extends Error {
  override name = 'WorkerStartError';
}

const HOST_ENTRY = fileFromSpecifier('@runlet/sdk/host');
const TSX = import.meta.resolve('tsx');
const SOCKET_DIR = path.join(os.tmpdir(), `runlet-${process.pid}`);
/** All a worker inherits that is not its service's or account's: a fixed PATH and locale. */
export const WORKER_BASE_ENV: Readonly<Record<string, string>> = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' };

/** How to start the SDK host (the TypeScript loader, then the host module). */
export function sdkHostCommand(): string[] {
  return [process.execPath, '--import', TSX, HOST_ENTRY];
}
/** The last output lines kept to explain a worker that failed to start. */
const START_OUTPUT_LINES = 20;

export const nowMicros = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

/**
 * A running worker process of one service, for one account. Its answer to a call is the HTTP
 * response it gives over its socket; everything it prints (stdout, stderr) and logs (fd 3)
 * goes to `onOutput`, which the pool points at the run the worker is serving.
 */
export class WorkerProcess {
  readonly id = `w_${randomId(8)}`;
  readonly startedAt = Date.now();
  description: ServiceDescription = {};
  /** Where output goes; the pool sets it for the duration of each call. */
  onOutput: (line: WorkerOutput) => void = () => {};
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly splitters: LineSplitter[] = [];
  /** Calls the worker has said are over (see `callEnded`). */
  private readonly callsEnded = new Set<string>();
  /** Lines read from the channel so far, each already handled (see `callEnded`). */
  private channelLines = 0;
  /** Told when the channel brought something `callEnded` may be waiting for. */
  private onChannel: (() => void) | undefined;
  private client!: Client;

  private constructor(
    readonly spec: ServiceSpec,
    readonly accountId: string,
    private readonly child: ChildProcess,
    private readonly socketPath: string | undefined,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        this.flushOutput();
        if (socketPath) rmSync(socketPath, { force: true });
        void this.client?.destroy().catch(() => {});
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  get exitDescription(): string {
    const e = this.exitInfo;
    if (!e) return 'still running';
    return e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
  }

  static async start(options: WorkerStartOptions): Promise<WorkerProcess> {
    const { spec } = options;
    const env: Record<string, string> = { ...WORKER_BASE_ENV, ...spec.env, ...options.env, [workerEnv.serviceId]: spec.id };
    let socketPath: string | undefined;
    let port: number | undefined;
    let child: ChildProcess;
    if (spec.kind === 'sdk') {
      mkdirSync(SOCKET_DIR, { recursive: true, mode: 0o700 });
      socketPath = path.join(SOCKET_DIR, `${randomId(10)}.sock`);
      env[workerEnv.socket] = socketPath;
      env[workerEnv.entry] = spec.entry!;
      const spare = options.spares?.take();
      if (spare) {
        spare.stdin!.write(JSON.stringify({ cwd: spec.dir, env }) + '\n');
        child = spare;
      } else {
        child = spawnWorker(sdkHostCommand(), spec.dir, env);
      }
    } else {
      port = await freePort();
      env.PORT = String(port);
      child = spawnWorker(spec.command!, spec.dir, env);
    }
    const worker = new WorkerProcess(spec, options.accountId, child, socketPath);
    const pid = child.pid;
    if (pid !== undefined && options.registry) {
      options.registry.add(pid);
      void worker.exited.then(() => options.registry!.remove(pid));
    }
    const recent: string[] = [];
    const keep = (line: WorkerOutput) => {
      recent.push(line.message);
      if (recent.length > START_OUTPUT_LINES) recent.shift();
    };
    worker.onOutput = keep;
    const ready = worker.wireOutput();
    try {
      await withTimeout(
        Promise.race([
          spec.kind === 'sdk' ? ready : waitForPort(port!, worker),
          worker.exited.then(() => {
            throw new WorkerStartError(`the worker ${worker.exitDescription} before it was ready`);
          }),
          once(child, 'error').then(([err]) => {
            throw new WorkerStartError(`could not start ${String(child.spawnfile)}: ${(err as Error).message}`);
          }),
        ]),
        options.startTimeoutMs,
        () => new WorkerStartError(`the worker was not ready within ${options.startTimeoutMs} ms`),
      );
    } catch (err) {
      worker.kill('SIGKILL');
      await worker.exited;
      const output = recent.length ? `\n${recent.join('\n')}` : '';
      throw new WorkerStartError(`service "${spec.id}" failed to start: ${(err as Error).message}${output}`);
    }
    worker.onOutput = () => {};
    worker.client = new Client(socketPath ? 'http://localhost' : `http://127.0.0.1:${port}`, {
      socketPath,
      pipelining: 1,
      // Runs have deadlines of their own (up to 30 minutes); undici's default 5-minute limits would cut them.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    return worker;
  }

  /** Sends one call to the worker. The response body streams; read or destroy it. */
  request(options: Omit<Dispatcher.RequestOptions, 'origin'>): Promise<Dispatcher.ResponseData> {
    return this.client.request(options);
  }

  /**
   * Waits until this worker's output of call `requestId` is all here: from then on its log is
   * whole. An SDK host's answer says how many channel lines its output ends at (`outputLines`,
   * from OUTPUT_LINES_HEADER) when it was sent whole; otherwise (a streamed answer) the host says
   * `done` after the call's last line. Programs in other languages say nothing, so for them
   * this waits only `quietMs` for output still in the pipes.
   */
  async callEnded(requestId: string, timeoutMs: number, outputLines?: number, quietMs = 10): Promise<void> {
    if (this.spec.kind !== 'sdk') {
      await new Promise((resolve) => setTimeout(resolve, quietMs));
    } else {
      const over = outputLines === undefined ? () => this.callsEnded.has(requestId) : () => this.channelLines >= outputLines;
      const deadline = Date.now() + timeoutMs;
      while (!over() && this.alive && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadline - Date.now());
          this.onChannel = () => (clearTimeout(timer), resolve());
        });
      }
      this.onChannel = undefined;
      this.callsEnded.delete(requestId);
    }
    this.flushOutput();
  }

  /** Delivers output still held in the line splitters (a last line without a newline). */
  flushOutput(): void {
    for (const s of this.splitters) s.flush();
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.alive) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 2000): Promise<void> {
    if (!this.alive) return;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Connects stdout, stderr and the fd-3 channel; resolves when the SDK host says it is ready. */
  private wireOutput(): Promise<void> {
    const [, stdout, stderr, channel] = this.child.stdio as unknown as [unknown, NodeJS.ReadableStream, NodeJS.ReadableStream, NodeJS.ReadableStream];
    const printed = (source: 'stdout' | 'stderr', level: LogLevel) => {
      const splitter = new LineSplitter((message) => this.onOutput({ source, level, message, timeMicros: nowMicros() }));
      this.splitters.push(splitter);
      return (chunk: Buffer) => splitter.push(chunk);
    };
    stdout.on('data', printed('stdout', 'info'));
    stderr.on('data', printed('stderr', 'error'));
    this.child.stdin?.on('error', () => {});
    return new Promise((resolve) => {
      const splitter = new LineSplitter((text) => {
        const message = parseMessage(text);
        if (message.type === 'ready') {
          this.description = message.service;
          resolve();
        } else if (message.type === 'done') {
          this.callsEnded.add(message.requestId);
        } else {
          this.onOutput({ source: message.source ?? 'logger', level: message.level, message: message.message, fields: message.fields, timeMicros: nowMicros() });
        }
      });
      this.splitters.push(splitter);
      channel.on('data', (chunk: Buffer) => {
        splitter.push(chunk);
        // Counted once handled: a line cut by the splitter's length limit is still one line sent.
        this.channelLines += newlinesIn(chunk);
        this.onChannel?.();
      });
    });
  }
}

function spawnWorker(argv: string[], cwd: string, env: Record<string, string>): ChildProcess {
  return spawn(argv[0]!, argv.slice(1), {
    cwd,
    env,
    // stdin stays open as a lifeline: the SDK host exits when it closes (the runtime died).
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
  });
}

/**
 * The count an SDK host's whole answer gives in OUTPUT_LINES_HEADER (see `callEnded`);
 * undefined when the answer has none (a streamed one) or a malformed one.
 */
export function outputLinesOf(headers: Record<string, string | string[] | undefined>): number | undefined {
  const value = headers[OUTPUT_LINES_HEADER];
  return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : undefined;
}

function newlinesIn(chunk: Buffer): number {
  let n = 0;
  for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
  return n;
}

/** A channel line that is not a valid message is still shown, as a plain logger line. */
function parseMessage(text: string): WorkerMessage {
  try {
    const parsed = WorkerMessage.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
  } catch {
    // fall through
  }
  return { type: 'log', level: 'info', message: text };
}

function fileFromSpecifier(specifier: string): string {
  return new URL(import.meta.resolve(specifier)).pathname;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A command service is ready when its port accepts a connection. */
async function waitForPort(port: number, worker: WorkerProcess): Promise<void> {
  while (worker.alive) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(error()), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}


