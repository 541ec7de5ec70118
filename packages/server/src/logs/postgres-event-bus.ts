import pg from 'pg';
import { LocalEventBus, type RunEvent } from './event-bus.js';

const CHANNEL = 'runlet_events';
/** How long to wait before listening again after the connection dropped. */
const RECONNECT_MS = 1000;

type Notice = { node: string; runId: string; event: RunEvent } | { node: string; queued: string };

/**
 * The event bus of a cluster: events go to this node's readers at once, and to the other
 * nodes through PostgreSQL's LISTEN/NOTIFY. Log lines themselves never travel in a
 * notification (its payload is small and lines are already in the store): other nodes are
 * told up to which `seq` there are lines, and their readers read them from the store.
 * A lost notification only delays a reader until its periodic safety-net check.
 */
export class PostgresEventBus extends LocalEventBus {
  private listener: pg.Client | undefined;
  private closed = false;

  private constructor(
    private readonly connectionString: string,
    private readonly pool: pg.Pool,
    private readonly nodeId: string,
    private readonly onError: (err: unknown) => void,
  ) {
    super();
  }

  static async open(connectionString: string, pool: pg.Pool, nodeId: string, onError: (err: unknown) => void): Promise<PostgresEventBus> {
    const bus = new PostgresEventBus(connectionString, pool, nodeId, onError);
    await bus.listen();
    return bus;
  }

  override publish(runId: string, event: RunEvent): void {
    super.publish(runId, event);
    const remote: RunEvent = event.type === 'logs' ? { type: 'logs', lines: [], upToSeq: event.upToSeq } : event;
    this.notify({ node: this.nodeId, runId, event: remote });
  }

  override announceQueued(serviceId: string): void {
    super.announceQueued(serviceId);
    this.notify({ node: this.nodeId, queued: serviceId });
  }

  override async close(): Promise<void> {
    this.closed = true;
    await this.listener?.end().catch(() => {});
    await super.close();
  }

  private notify(notice: Notice): void {
    this.pool.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(notice)]).catch(this.onError);
  }

  private receive(payload: string | undefined): void {
    if (!payload) return;
    let notice: Notice;
    try {
      notice = JSON.parse(payload) as Notice;
    } catch {
      return;
    }
    if (notice.node === this.nodeId) return;
    if ('queued' in notice) super.announceQueued(notice.queued);
    else super.publish(notice.runId, notice.event);
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString });
    client.on('notification', (n) => this.receive(n.payload));
    client.on('error', (err) => {
      this.onError(err);
      this.reconnect(client);
    });
    client.on('end', () => this.reconnect(client));
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
  }

  private reconnect(dead: pg.Client): void {
    if (this.closed || this.listener !== dead) return;
    this.listener = undefined;
    setTimeout(() => {
      if (!this.closed) this.listen().catch((err: unknown) => (this.onError(err), this.reconnect(dead)));
    }, RECONNECT_MS).unref();
  }
}
