import pg from 'pg';
import { LocalEventBus, NODE_NOTICES, type NodeNotice, type RunEvent } from './event-bus.js';

const CHANNEL = 'runlet_events';
/** How long to wait before listening again after the connection dropped. */
const RECONNECT_MS = 1000;
/**
 * A node sends at most one notification in this many ms; the notices of the meantime go
 * together in the next. Each notification costs a transaction to send and one more on every
 * listening node to read, which at three nodes was most of the database's transactions per run.
 */
const NOTIFY_INTERVAL_MS = 10;
/** PostgreSQL refuses payloads of 8000 bytes or more; stay well under it. */
const MAX_PAYLOAD = 7000;
/**
 * The advisory lock (two int4 keys: "Runl", 1) every node's listening connection holds,
 * shared: its holders are the nodes of the cluster, and a node that dies lets go with its
 * connection. pg_locks, unlike pg_stat_activity, shows every session's locks to every role.
 */
const MEMBERSHIP_LOCK = [0x52756e6c, 1] as const;
/** How often a node counts the nodes listening; a node joining others waits a little longer before it serves. */
const PEERS_CHECK_MS = 1000;
const JOIN_WAIT_MS = PEERS_CHECK_MS * 1.5;

/** On the wire a node notice is `{ <notice>: id }`, e.g. `{ "queued": "echo" }`. */
type NodeNoticeOf = { [N in NodeNotice]: { [K in N]: string } }[NodeNotice];
type Notice = { runId: string; event: RunEvent } | NodeNoticeOf | { runChanged: string; account: string };
/** One notification: the notices of one event-loop turn of one node. */
interface Batch {
  node: string;
  notices: Notice[];
}

/**
 * The event bus of a cluster: events go to this node's readers at once, and to the other
 * nodes through PostgreSQL's LISTEN/NOTIFY. Log lines themselves never travel in a
 * notification (its payload is small and lines are already in the store): other nodes are
 * told up to which `seq` there are lines, and their readers read them from the store.
 * A lost notification only delays a reader until its periodic safety-net check. The notices
 * of one event-loop turn go out together, as one notification, and the notices that come while
 * one is on its way, or within NOTIFY_INTERVAL_MS of its start, wait and then go out together:
 * an idle node sends at once, and a busy one at most once an interval. A node alone on
 * its database (as counted every second) sends nothing: nobody would hear it. A node joining
 * others waits until they have counted it before it serves, so it misses nothing of theirs.
 */
export class PostgresEventBus extends LocalEventBus {
  private listener: pg.Client | undefined;
  private closed = false;
  private outbox: Notice[] = [];
  /** Settles when the notification on its way is sent and its interval has passed; meanwhile notices wait in the outbox. */
  private sending: Promise<void> | undefined;
  /** Other nodes listening, as last counted; undefined when unknown (notices are then sent). */
  private peers: number | undefined;
  private peersTimer: NodeJS.Timeout | undefined;

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
    await bus.countPeers();
    if (bus.peers !== 0) await new Promise((resolve) => setTimeout(resolve, JOIN_WAIT_MS));
    bus.peersTimer = setInterval(() => void bus.countPeers(), PEERS_CHECK_MS);
    bus.peersTimer.unref();
    return bus;
  }

  override publish(runId: string, event: RunEvent): void {
    super.publish(runId, event);
    this.notify({ runId, event: remoteOf(event) });
  }

  override announce(notice: NodeNotice, id: string): void {
    super.announce(notice, id);
    this.notify({ [notice]: id } as NodeNoticeOf);
  }

  override announceRunChanged(accountId: string, runId: string): void {
    super.announceRunChanged(accountId, runId);
    this.notify({ runChanged: runId, account: accountId });
  }

  override async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.peersTimer);
    // What this node's runs announced last still reaches the others, without waiting out an interval.
    await this.sending;
    await this.send(this.outbox.splice(0));
    await this.listener?.end().catch(() => {});
    await super.close();
  }

  private notify(notice: Notice): void {
    if (this.peers === 0 || this.closed) return;
    if (this.outbox.push(notice) === 1 && !this.sending) setImmediate(() => this.sendOutbox());
  }

  /** Counts the nodes holding the membership lock; this one holds it too while it listens. */
  private async countPeers(): Promise<void> {
    try {
      const { rows } = await this.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks
          WHERE locktype = 'advisory' AND classid = $1::int::oid AND objid = $2::int::oid AND objsubid = 2 AND granted
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [...MEMBERSHIP_LOCK],
      );
      const holders = rows[0]?.n ?? 0;
      // Not even this node counted (its listener is reconnecting): unknown, so keep sending.
      this.peers = holders > 0 && this.listener ? holders - 1 : undefined;
    } catch (err) {
      this.peers = undefined;
      this.onError(err);
    }
  }

  /** Sends what waits in the outbox, then holds the next notification until the interval has passed. */
  private sendOutbox(): void {
    if (this.sending || this.closed || this.outbox.length === 0) return;
    const started = performance.now();
    this.sending = this.send(this.outbox.splice(0))
      .then(() => {
        // Whole ms, rounded up: a timer's delay is truncated to them.
        const rest = Math.ceil(started + NOTIFY_INTERVAL_MS - performance.now());
        return new Promise<void>((resolve) => (rest > 0 ? setTimeout(resolve, rest) : setImmediate(resolve)));
      })
      .finally(() => {
        this.sending = undefined;
        // What came meanwhile goes out together.
        this.sendOutbox();
      });
  }

  /** In order: a second payload is sent once the first is, as its notices came later. */
  private async send(notices: readonly Notice[]): Promise<void> {
    for (const payload of payloadsOf(this.nodeId, notices)) {
      await this.pool.query('SELECT pg_notify($1, $2)', [CHANNEL, payload]).catch(this.onError);
    }
  }

  private receive(payload: string | undefined): void {
    if (!payload) return;
    let batch: Batch;
    try {
      batch = JSON.parse(payload) as Batch;
    } catch {
      return;
    }
    if (batch.node === this.nodeId || !Array.isArray(batch.notices)) return;
    for (const notice of batch.notices) {
      if ('runId' in notice) super.publish(notice.runId, notice.event);
      else if ('runChanged' in notice) super.announceRunChanged(notice.account, notice.runChanged);
      else {
        const kind = NODE_NOTICES.find((k) => k in notice);
        if (kind) super.announce(kind, (notice as Record<NodeNotice, string>)[kind]);
      }
    }
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString });
    client.on('notification', (n) => this.receive(n.payload));
    client.on('error', (err) => {
      this.onError(err);
      this.reconnect(client);
    });
    client.on('end', () => this.reconnect(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      await client.query('SELECT pg_advisory_lock_shared($1, $2)', [...MEMBERSHIP_LOCK]);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    this.listener = client;
  }

  private reconnect(dead: pg.Client): void {
    if (this.closed || this.listener !== dead) return;
    this.listener = undefined;
    this.listenAgain();
  }

  /** Tries to listen again, and again, until PostgreSQL takes the connection (it may be down for a while). */
  private listenAgain(): void {
    setTimeout(() => {
      if (!this.closed) this.listen().catch((err: unknown) => (this.onError(err), this.listenAgain()));
    }, RECONNECT_MS).unref();
  }
}

/** What other nodes hear of an event: ids and marks, never rows or lines (they read those from the store). */
function remoteOf(event: RunEvent): RunEvent {
  if (event.type === 'logs') return { type: 'logs', lines: [], upToSeq: event.upToSeq };
  if (event.type === 'status' && event.ended) return { type: 'status', status: event.status };
  return event;
}

/**
 * The notices as few payloads as fit under PostgreSQL's limit, in order. Repeats that say
 * nothing new are dropped: a service announced twice, a run's log mark that a later one in
 * the same batch moves past, or a run's change that a later one repeats (the receiver reads
 * the run as it then is).
 */
export function payloadsOf(node: string, notices: readonly Notice[]): string[] {
  const lastLogMark = new Map<string, number>();
  const lastChange = new Map<string, number>();
  notices.forEach((n, i) => {
    if ('runId' in n && n.event.type === 'logs') lastLogMark.set(n.runId, i);
    if ('runChanged' in n) lastChange.set(n.runChanged, i);
  });
  const announced = new Set<string>();
  const kept = notices.filter((n, i) => {
    if ('queued' in n) return !announced.has(n.queued) && announced.add(n.queued);
    if ('runChanged' in n) return lastChange.get(n.runChanged) === i;
    if ('runId' in n) return n.event.type !== 'logs' || lastLogMark.get(n.runId) === i;
    return true;
  });
  const payloads: string[] = [];
  const head = `{"node":${JSON.stringify(node)},"notices":[`;
  let body: string[] = [];
  let size = head.length + 2;
  for (const notice of kept) {
    const text = JSON.stringify(notice);
    if (body.length > 0 && size + text.length + 1 > MAX_PAYLOAD) {
      payloads.push(head + body.join(',') + ']}');
      body = [];
      size = head.length + 2;
    }
    body.push(text);
    size += text.length + 1;
  }
  if (body.length > 0) payloads.push(head + body.join(',') + ']}');
  return payloads;
}
