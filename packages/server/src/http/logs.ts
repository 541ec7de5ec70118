import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { isTerminal, LogLine } from '@runlet/protocol';
import { z } from 'zod';
import { missingRunError } from '../engine/run-record.js';
import type { RunEvent } from '../logs/event-bus.js';
import { toWireLogLine } from '../logs/wire.js';
import type { StoredLogLine } from '../store/store.js';
import type { Runtime } from '../runtime.js';
import { principalOf, requireCaller } from './auth.js';
import { parse, RequestIdParams } from './params.js';

const PAGE = 1000;

const LogsQuery = z.object({
  /** The `createdAt` of the last line the reader saw (what the official clients send). */
  after: z.string().datetime({ offset: true }).optional(),
  after_seq: z.coerce.number().int().nonnegative().optional(),
  format: z.enum(['ndjson', 'sse']).optional(),
});

/**
 * Frames: NDJSON by default (one JSON object a line, what both official clients parse even
 * though they send `Accept: text/event-stream`; their heartbeats must be blank lines, which
 * they skip), or standard Server-Sent Events with `?format=sse` for browsers.
 */
const frames = {
  ndjson: {
    contentType: 'application/x-ndjson; charset=utf-8',
    line: (l: LogLine) => JSON.stringify(l) + '\n',
    heartbeat: '\n',
    end: () => '',
  },
  sse: {
    contentType: 'text/event-stream; charset=utf-8',
    line: (l: LogLine) => `id: ${l.seq}\nevent: log\ndata: ${JSON.stringify(l)}\n\n`,
    heartbeat: ': keep-alive\n\n',
    end: (status: string) => `event: end\ndata: ${JSON.stringify({ status })}\n\n`,
  },
};

/** `/logs/{id}`: the run's stored lines, then live ones, ending when the run ends. */
export function registerLogRoutes(app: FastifyInstance, runtime: Runtime): void {
  app.get('/logs/:id', { preHandler: requireCaller(runtime), config: { doc } }, async (request, reply) => {
    const { id } = parse(RequestIdParams, request.params);
    const query = parse(LogsQuery, request.query);
    const lastEventId = Number.parseInt(String(request.headers['last-event-id'] ?? ''), 10);
    let lastSeq = query.after_seq ?? (Number.isFinite(lastEventId) ? lastEventId : 0);
    const afterMs = query.after ? Date.parse(query.after) : -Infinity;
    const frame = frames[query.format ?? 'ndjson'];

    // Subscribe before reading the backlog, so no line falls between the two.
    const events: RunEvent[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = runtime.bus.subscribe(id, (e) => {
      events.push(e);
      wake?.();
    });
    let run = await runtime.store.getRun(id);
    if (!runtime.access.canRead(principalOf(request), run)) {
      unsubscribe();
      throw await missingRunError(runtime.store, principalOf(request), id);
    }

    reply.hijack();
    const res = reply.raw;
    // Headers set on the reply so far (CORS among them) go out with the stream's own.
    res.writeHead(200, { ...(reply.getHeaders() as OutgoingHttpHeaders), 'content-type': frame.contentType, 'cache-control': 'no-cache', 'x-accel-buffering': 'no', 'x-request-id': id });
    res.socket?.setNoDelay(true);
    let open = true;
    // Each heartbeat also re-reads the store: a safety net for an event that never came.
    let recheck = false;
    const heartbeat = setInterval(() => {
      res.write(frame.heartbeat);
      recheck = true;
      wake?.();
    }, runtime.config.heartbeatSeconds * 1000);
    res.once('close', () => {
      open = false;
      wake?.();
    });

    const send = (lines: readonly StoredLogLine[]) => {
      let out = '';
      for (const line of lines) {
        if (line.seq <= lastSeq) continue;
        lastSeq = line.seq;
        if (line.createdAt > afterMs) out += frame.line(toWireLogLine(line));
      }
      if (out) res.write(out);
    };
    const readBacklog = async () => {
      for (;;) {
        const page = await runtime.store.readLogs(id, lastSeq, PAGE);
        send(page);
        if (page.length < PAGE) return;
      }
    };

    try {
      await readBacklog();
      let ended = isTerminal(run!.status);
      while (open && !ended) {
        if (events.length === 0 && !recheck) await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        if (recheck) {
          recheck = false;
          await readBacklog();
          const now = await runtime.store.getRun(id);
          if (!now || isTerminal(now.status)) ended = true;
        }
        for (const e of events.splice(0)) {
          if (e.type === 'logs') {
            // Lines written on another node, or a gap: read them from the store.
            if (e.upToSeq > lastSeq && (e.lines.length === 0 || e.lines[0]!.seq > lastSeq + 1)) await readBacklog();
            send(e.lines);
          } else if (e.type === 'gone' || (e.type === 'status' && isTerminal(e.status))) {
            ended = true;
          }
        }
      }
      if (open) {
        await readBacklog();
        run = await runtime.store.getRun(id);
        res.end(frame.end(run?.status ?? 'gone'));
      }
    } catch (err) {
      request.log.error({ err, requestId: id }, 'log stream failed');
      res.destroy();
    } finally {
      clearInterval(heartbeat);
      unsubscribe();
    }
  });
}

const doc = {
  summary: "Stream a run's log lines",
  description:
    'Stored lines first, then live ones; the stream ends when the run ends. NDJSON (one JSON object a line; heartbeats are blank lines) unless `format=sse`, which gives Server-Sent Events with id = seq and honours Last-Event-ID. `after=<createdAt>` resumes strictly after that line; `createdAt` is strictly increasing within a run.',
  query: { after: 'createdAt of the last line seen', after_seq: 'seq of the last line seen', format: 'ndjson (default) or sse' },
  responses: { 200: LogLine },
} as const;
