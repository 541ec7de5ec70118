import type { FastifyInstance } from 'fastify';
import { RunDetail, RunList, RunListQuery } from '@runlet/protocol';
import { isJsonType, toRequestRecord } from '../engine/record.js';
import { RunletError } from '../errors.js';
import type { RunRow } from '../store/store.js';
import type { Runtime } from '../runtime.js';
import { principalOf, requireCaller, requireAccountCaller } from './auth.js';
import { parse, RequestIdParams } from './params.js';

const DEFAULT_PAGE = 50;

/** `GET /runs` (the account's runs, newest first, paged) and `GET /runs/{id}` (one, with its input). */
export function registerRunListRoutes(app: FastifyInstance, runtime: Runtime): void {

  app.get('/runs', { preHandler: requireAccountCaller(runtime), config: { doc: docs.list } }, async (request) => {
    const query = parse(RunListQuery, request.query);
    const limit = query.limit ?? DEFAULT_PAGE;
    const rows = await runtime.store.listRuns({
      accountId: principalOf(request).accountId,
      serviceId: query.service,
      status: query.status,
      limit,
      before: parseRunCursor(query.cursor),
    });
    const last = rows.at(-1);
    return { runs: rows.map(toRequestRecord), nextCursor: rows.length === limit && last ? `${last.createdAt}.${last.id}` : null };
  });

  app.get('/runs/:id', { preHandler: requireCaller(runtime), config: { doc: docs.detail } }, async (request) => {
    const { id } = parse(RequestIdParams, request.params);
    const run = await runtime.store.getRun(id);
    if (!runtime.access.canRead(principalOf(request), run)) throw new RunletError('RUN_NOT_FOUND', `No request "${id}".`);
    return { ...toRequestRecord(run), ...inputOf(run) };
  });
}

function parseRunCursor(cursor: string | undefined): { createdAt: number; id: string } | undefined {
  if (!cursor) return undefined;
  const m = /^(\d{1,15})\.([\w-]{1,100})$/.exec(cursor);
  if (!m) throw new RunletError('INVALID_REQUEST', 'The cursor is not one that GET /runs handed out.');
  return { createdAt: Number(m[1]), id: m[2]! };
}

/** The input as text when it is text (JSON, form, plain); binary input is not shown. */
function inputOf(run: RunRow): { input: string | null; inputContentType: string | null } {
  const type = run.inputContentType;
  const textual = !type || isJsonType(type) || /^text\/|x-www-form-urlencoded/i.test(type);
  return { input: run.input && textual ? run.input.toString('utf8') : null, inputContentType: type };
}

const docs = {
  list: {
    summary: "The account's runs, newest first",
    description: 'Filter by `service` and `status`; pass `nextCursor` as `cursor` for the next page (null on the last one).',
    query: { service: 'service id', status: 'run status', limit: '1..200, default 50', cursor: 'from the previous page' },
    responses: { 200: RunList },
  },
  detail: { summary: 'One run with its input', responses: { 200: RunDetail } },
} as const;
