import type { LogLevel } from '@runlet/protocol';
import { sendToRuntime } from './channel.js';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/**
 * A structured logger: each call becomes one log line of the current run, with its level and
 * fields. Outside Runlet (no channel) it prints to the console instead.
 */
export function createLogger(): Logger {
  const write = (level: LogLevel) => (message: string, fields?: LogFields) => {
    const safeFields = fields === undefined ? undefined : toPlain(fields);
    if (!sendToRuntime({ type: 'log', level, message: String(message), fields: safeFields })) {
      (level === 'error' ? console.error : console.log)(`[${level}] ${message}`, fields ?? '');
    }
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** Fields travel as JSON: turn errors and other non-JSON values into something readable. */
function toPlain(fields: LogFields): LogFields {
  try {
    return JSON.parse(JSON.stringify(fields, (_k, v) => (v instanceof Error ? { name: v.name, message: v.message } : typeof v === 'bigint' ? String(v) : v)));
  } catch {
    return { fields: String(fields) };
  }
}

export const logger: Logger = createLogger();
