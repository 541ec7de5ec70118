/**
 * `runlet dev` prints the server's log for a person at a terminal: one readable line per entry
 * (time, level, message, the error's own text with its line breaks, then the other fields),
 * where `runlet serve` writes JSON lines for a log collector.
 */
const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** A pino destination that writes each entry as `formatDevLine` makes it. */
export function devLogStream(out: NodeJS.WritableStream = process.stdout): { write(line: string): void } {
  return { write: (line) => void out.write(`${formatDevLine(line)}\n`) };
}

export function formatDevLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.trimEnd();
  }
  const { level, time, msg, err, pid: _pid, hostname: _hostname, ...fields } = entry;
  const clock = typeof time === 'number' ? localClock(new Date(time)) : '';
  const name = (LEVELS[level as number] ?? 'log').padEnd(5);
  const rest = Object.entries(fields).map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  const why = errorText(err);
  return [`${clock} ${name} ${String(msg ?? '')}${rest.length ? ` (${rest.join(' ')})` : ''}`, ...(why ? [indent(why)] : [])].join('\n');
}

/** An error as pino wrote it: a string, or `{type, message, stack}` (the stack says the message too). */
function errorText(err: unknown): string {
  if (err === undefined || err === null) return '';
  if (typeof err === 'string') return err;
  const e = err as { message?: string; stack?: string };
  return e.stack ?? e.message ?? JSON.stringify(err);
}

/** HH:MM:SS.mmm in the terminal's own time zone. */
function localClock(at: Date): string {
  return `${at.toTimeString().slice(0, 8)}.${String(at.getMilliseconds()).padStart(3, '0')}`;
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}
