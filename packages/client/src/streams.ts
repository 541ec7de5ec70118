/** The lines of a byte stream (without their `\n` or `\r\n`), the last one even without a newline. */
export async function* readLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        yield line.endsWith('\r') ? line.slice(0, -1) : line;
      }
    }
    buffer += decoder.decode();
    if (buffer !== '') yield buffer;
  } finally {
    // Leaving early (break, or an error in the consumer) must free the connection.
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** One Server-Sent Event. `data` is parsed as JSON when it is JSON, else kept as text. */
export interface ServerSentEvent<T = unknown> {
  event: string;
  data: T;
  id: string | undefined;
  /** `data` as it came, before parsing. */
  raw: string;
}

/** Parses a `text/event-stream` body: `data:` lines joined, dispatched at each blank line; comments skipped. */
export async function* readServerSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  let data: string[] = [];
  let event = '';
  let id: string | undefined;
  const dispatch = (): ServerSentEvent | undefined => {
    if (data.length === 0) {
      event = '';
      return undefined;
    }
    const raw = data.join('\n');
    let parsed: unknown = raw;
    try {
      parsed = JSON.parse(raw);
    } catch {
      // Not JSON: the text is the data.
    }
    const e = { event: event || 'message', data: parsed, id, raw };
    data = [];
    event = '';
    return e;
  };
  for await (const line of readLines(body)) {
    if (line === '') {
      const e = dispatch();
      if (e) yield e;
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id') id = value;
  }
  const last = dispatch();
  if (last) yield last;
}
