import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where `npm run build -w @runlet/dashboard` puts the single-page app. */
export const DASHBOARD_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dashboard/dist');

/**
 * The dashboard's pages. The app's own routes live under `/app/` (plus `/`, `/sign-in` and the
 * setup link `/setup`) so that no page shadows an API endpoint of the same name (`GET /runs`
 * answers JSON, `/app/runs` the page); every page answers the same index.html and the
 * browser-side router takes it from there. Built assets have hashed names, so they are cached
 * for good.
 */
export function registerDashboardRoutes(app: FastifyInstance, dist: string = DASHBOARD_DIST): void {
  const index = path.join(dist, 'index.html');
  const page = async (_request: unknown, reply: FastifyReply) => {
    if (!existsSync(index)) return reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT);
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(readFileSync(index));
  };
  // Pages are not API: they stay out of /openapi.json (no `config.doc`).
  for (const url of ['/', '/sign-in', '/setup', '/app', '/app/*']) app.get(url, page);
  if (existsSync(path.join(dist, 'assets'))) {
    app.register(fastifyStatic, { root: path.join(dist, 'assets'), prefix: '/assets/', immutable: true, maxAge: '365d', wildcard: false });
  }
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Runlet</title>
<p>The dashboard has not been built. Run <code>npm run build -w @runlet/dashboard</code> (or <code>npm start</code>, which builds it), then reload.</p>`;
