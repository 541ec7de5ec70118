import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));
const SOURCES = ['app', 'index.html', 'vite.config.ts', 'package.json'];

function newestSource(p: string): number {
  const s = statSync(p);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(0, ...readdirSync(p).map((f) => newestSource(path.join(p, f))));
}

/** Whether dist/ is missing or older than a source file. */
export function dashboardStale(): boolean {
  const index = path.join(root, 'dist', 'index.html');
  if (!existsSync(index)) return true;
  const built = statSync(index).mtimeMs;
  return SOURCES.some((s) => existsSync(path.join(root, s)) && newestSource(path.join(root, s)) > built);
}

/** Builds with Vite when stale; answers whether it built. */
export function ensureDashboardBuilt(): boolean {
  if (!dashboardStale()) return false;
  const vite = path.join(path.dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin', 'vite.js');
  execFileSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  return true;
}
