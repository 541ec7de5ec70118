import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { isTerminal, request, type RunRecord } from './api';

/** `live`: runs arrive over GET /runs/events. `down`: the stream failed; the table polls meanwhile. */
export type FeedState = 'connecting' | 'live' | 'down';

/** A page of the runs table as GET /runs answers it; its query key is ['runs', service, status, cursor]. */
export interface RunPage {
  runs: RunRecord[];
  nextCursor: string | null;
}

/** Until the server says otherwise (`retry:`), how long to wait before opening a broken stream again. */
const DEFAULT_RETRY_MS = 3000;
/**
 * The first page grows as runs arrive; past this many rows it is read again instead, so the
 * table stays small and its "Older runs" cursor stays right.
 */
const MAX_LIVE_ROWS = 200;

/**
 * Follows the account's runs as they change (Server-Sent Events read with fetch, since
 * EventSource cannot send an API key) and writes each into the cached pages of the runs table.
 * A stream that breaks is opened again; one this server does not offer is not.
 */
export function useRunFeed(): FeedState {
  const client = useQueryClient();
  const [state, setState] = useState<FeedState>('connecting');
  useEffect(() => {
    const abort = new AbortController();
    void (async () => {
      let retryMs = DEFAULT_RETRY_MS;
      while (!abort.signal.aborted) {
        try {
          const res = await request('/runs/events', { signal: abort.signal, headers: { accept: 'text/event-stream' } });
          if (res.ok && res.body) {
            setState('live');
            // What changed before the stream opened is read once; from now on, events tell.
            void client.invalidateQueries({ queryKey: ['runs'] });
            void client.invalidateQueries({ queryKey: ['run'] });
            for await (const event of serverSentEvents(res.body)) {
              if (event.field === 'retry') retryMs = Number(event.data);
              else if (event.field === 'run') applyRun(client, JSON.parse(event.data) as RunRecord);
            }
          } else {
            void res.body?.cancel();
            // An older server without the feed, or a caller refused it: polling it is.
            if (res.status >= 400 && res.status < 500 && res.status !== 429) return setState('down');
          }
        } catch {
          if (abort.signal.aborted) return;
        }
        setState('down');
        await new Promise((resolve) => setTimeout(resolve, retryMs));
      }
    })();
    return () => abort.abort();
  }, [client]);
  return state;
}

/** The events of a stream (`field` is the event's type, or `retry`); comments are skipped. */
async function* serverSentEvents(body: NonNullable<Response['body']>): AsyncGenerator<{ field: string; data: string }> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let type = 'message';
  let data: string[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const lines = buffer.split(/\r?\n/);
    buffer = lines.pop()!;
    for (const line of lines) {
      if (line === '') {
        if (data.length > 0) yield { field: type, data: data.join('\n') };
        type = 'message';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const name = colon === -1 ? line : line.slice(0, colon);
      const text = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (name === 'event') type = text;
      else if (name === 'data') data.push(text);
      else if (name === 'retry' && /^\d+$/.test(text)) yield { field: 'retry', data: text };
    }
  }
}

/** Newest first, as GET /runs lists them. */
const newestFirst = (a: RunRecord, b: RunRecord) => compare(b.createdAt, a.createdAt) || compare(b.id, a.id);
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Writes a run as it now is into every cached page of the table: a row it has is updated (or
 * dropped when the run no longer matches the page's status filter); a run it lacks is added when
 * it matches the filters and belongs on that page (the first, above its last row).
 */
export function applyRun(client: QueryClient, run: RunRecord): void {
  // A run's own page holds its input too, which events do not carry: it reads the run again.
  if (client.getQueryData(['run', run.id])) void client.invalidateQueries({ queryKey: ['run', run.id], exact: true });
  for (const query of client.getQueryCache().findAll({ queryKey: ['runs'] })) {
    const page = query.state.data as RunPage | undefined;
    if (!page) continue;
    const [, service, status, cursor] = query.queryKey as [string, string, string, string];
    const matches = (!service || run.serviceId === service) && (!status || run.status === status);
    const had = page.runs.find((r) => r.id === run.id);
    let runs: RunRecord[];
    if (had) {
      // A page read after this event was made may already know better: an ended run stays ended.
      if (isTerminal(had.status) && !isTerminal(run.status)) continue;
      runs = matches ? page.runs.map((r) => (r.id === run.id ? run : r)) : page.runs.filter((r) => r.id !== run.id);
    } else {
      const last = page.runs.at(-1);
      if (!matches || cursor || (page.nextCursor && last && newestFirst(run, last) > 0)) continue;
      runs = [run, ...page.runs].sort(newestFirst);
    }
    if (runs.length > MAX_LIVE_ROWS) void client.invalidateQueries({ queryKey: query.queryKey, exact: true });
    else client.setQueryData(query.queryKey, { ...page, runs });
  }
}
