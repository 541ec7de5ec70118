import type { FastifyInstance, RouteOptions } from 'fastify';
import { errorCatalogue } from '@runlet/protocol';
import { z } from 'zod';
import { VERSION } from '../version.js';

/** What a route says of itself (in `config.doc`); the OpenAPI document is built from these. */
export interface RouteDoc {
  summary: string;
  description?: string;
  headers?: Readonly<Record<string, string>>;
  query?: Readonly<Record<string, string>>;
  responses?: Readonly<Record<string | number, z.ZodType | string>>;
  public?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    doc?: RouteDoc;
  }
}

const ErrorBody = z.object({ code: z.enum(Object.keys(errorCatalogue) as [string, ...string[]]), message: z.string(), request_id: z.string().optional() });

/** Collects every documented route as it is registered; call before registering routes. */
export function collectRouteDocs(app: FastifyInstance): () => object {
  const routes: { method: string; url: string; doc: RouteDoc }[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const doc = route.config?.doc;
    if (!doc) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) if (method !== 'HEAD') routes.push({ method: method.toLowerCase(), url: route.url, doc });
  });
  return () => buildDocument(routes);
}

function buildDocument(routes: { method: string; url: string; doc: RouteDoc }[]): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const { method, url, doc } of routes) {
    const path = url.replace(/:(\w+)/g, '{$1}').replace(/\*$/, '{path}');
    const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const query = Object.entries(doc.query ?? {}).map(([name, description]) => ({ name, in: 'query', description, schema: { type: 'string' } }));
    const headers = Object.entries(doc.headers ?? {}).map(([name, description]) => ({ name, in: 'header', description, schema: { type: 'string' } }));
    const responses: Record<string, object> = {};
    for (const [status, body] of Object.entries(doc.responses ?? {})) {
      responses[status] =
        typeof body === 'string'
          ? { description: body, content: { 'application/json': { schema: z.toJSONSchema(ErrorBody) } } }
          : { description: 'OK', content: { 'application/json': { schema: z.toJSONSchema(body, { unrepresentable: 'any' }) } } };
    }
    responses.default = { description: 'A runtime error', content: { 'application/json': { schema: z.toJSONSchema(ErrorBody) } } };
    (paths[path] ??= {})[method] = {
      summary: doc.summary,
      description: doc.description,
      parameters: [...params, ...query, ...headers],
      security: doc.public ? [] : [{ apiKey: [] }],
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Runlet runtime API', version: VERSION, description: 'The CodeWords runtime API, as Runlet speaks it.' },
    components: {
      securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'Authorization', description: '"Bearer cwk-..." or the bare key.' } },
    },
    paths,
  };
}
