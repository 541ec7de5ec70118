/** One Server-Sent Event: `data` is sent as JSON unless it is already a string. */
export interface SseEvent {
  data: unknown;
  event?: string;
  id?: string;
}

/**
 * Answers a stream of Server-Sent Events from an (async) iterable, flushing each event as it
 * is produced.
 *
 * @example
 * handler: () => sse((async function* () { for (let i = 3; i > 0; i--) yield { data: { n: i } }; })())
 */
export function sse(events: AsyncIterable<SseEvent> | Iterable<SseEvent>, init: ResponseInit = {}): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      try {
        for await (const e of events) controller.enqueue(encoder.encode(formatSseEvent(e)));
        controller.close();
      } catch (err) {
        controller.error(err);
      }
    },
  });
  const headers = new Headers(init.headers);
  headers.set('content-type', 'text/event-stream; charset=utf-8');
  headers.set('cache-control', 'no-cache');
  return new Response(body, { ...init, headers });
}

export function formatSseEvent(e: SseEvent): string {
  let out = '';
  if (e.event) out += `event: ${e.event}\n`;
  if (e.id) out += `id: ${e.id}\n`;
  const data = typeof e.data === 'string' ? e.data : JSON.stringify(e.data);
  for (const line of data.split('\n')) out += `data: ${line}\n`;
  return out + '\n';
}
