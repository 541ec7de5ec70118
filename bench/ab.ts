/**
 * Not part of `npm run bench`: an earlier commit against the working tree, in alternating runs,
 * the way docs/performance.md measures a change on a machine whose speed drifts from one
 * minute to the next.
 *
 *   node --import tsx bench/ab.ts <rev> [pairs]      (default 3 pairs)
 *
 * Checks `<rev>` out in a temporary worktree (with a copy of node_modules, so its workspace
 * packages are its own, and of the working tree's bench/, so one harness measures both), then
 * runs `bench/profile.ts` with `PROFILE=0` in each, pair by pair,
 * the earlier one first in odd pairs and second in even ones. Every other setting of
 * `bench/profile.ts` passes through the environment (`PROFILE_SCENARIO=async`,
 * `PROFILE_CONNECTIONS=2`, `DATABASE_URL=…`). Prints each pair and the median change.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const [rev, pairsArg] = process.argv.slice(2);
if (!rev) {
  console.error('usage: node --import tsx bench/ab.ts <rev> [pairs]');
  process.exit(2);
}
const pairs = Number(pairsArg ?? 3);
if (!Number.isInteger(pairs) || pairs < 1) {
  console.error(`pairs must be a whole number above 0, not "${pairsArg}"`);
  process.exit(2);
}
const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
const commit = git('rev-parse', '--short', rev);
const before = mkdtempSync(path.join(os.tmpdir(), `runlet-ab-${commit}-`));

interface Figures {
  cpuMs: number;
  perSecond: number;
}

/** One `bench/profile.ts` run in `checkout`: the gateway's CPU per request (or run) and the throughput. */
function measure(checkout: string): Figures {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/profile.ts'], { cwd: checkout, env: { ...process.env, PROFILE: '0' }, encoding: 'utf8', timeout: 600_000 });
  const line = /gateway CPU ([\d.]+) ms\/(?:req|run).* = (\d+)\/s/.exec(run.stdout);
  if (!line) throw new Error(`bench/profile.ts in ${checkout} printed no figures:\n${run.stdout}\n${run.stderr}`);
  return { cpuMs: Number(line[1]), perSecond: Number(line[2]) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return Number.isInteger(mid) ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[Math.floor(mid)]!;
}
const change = (from: number, to: number) => `${to >= from ? '+' : ''}${(((to - from) / from) * 100).toFixed(1)} %`;

try {
  git('worktree', 'add', '--detach', before, commit);
  // Copies, not links: the workspace packages in node_modules link to the checkout they sit in.
  execFileSync('cp', ['-a', path.join(root, 'node_modules'), before]);
  for (const pkg of readdirSync(path.join(root, 'packages'))) {
    const modules = path.join(root, 'packages', pkg, 'node_modules');
    if (existsSync(modules) && existsSync(path.join(before, 'packages', pkg))) execFileSync('cp', ['-a', modules, path.join(before, 'packages', pkg)]);
  }
  // One harness measures both: the working tree's bench/ (its warm-up, its window) over the earlier server.
  execFileSync('cp', ['-a', path.join(root, 'bench'), before]);
  console.log(`${commit} (before) against the working tree (after), ${pairs} pairs; gateway CPU ms per request and throughput per second`);
  const rows: { before: Figures; after: Figures }[] = [];
  for (let i = 1; i <= pairs; i++) {
    const earlierFirst = i % 2 === 1;
    const first = measure(earlierFirst ? before : root);
    const second = measure(earlierFirst ? root : before);
    const row = earlierFirst ? { before: first, after: second } : { before: second, after: first };
    rows.push(row);
    console.log(`pair ${i}: CPU ${row.before.cpuMs.toFixed(3)} → ${row.after.cpuMs.toFixed(3)} ms (${change(row.before.cpuMs, row.after.cpuMs)}), ${row.before.perSecond} → ${row.after.perSecond}/s (${change(row.before.perSecond, row.after.perSecond)})`);
  }
  const cpu = median(rows.map((r) => r.after.cpuMs / r.before.cpuMs));
  const rate = median(rows.map((r) => r.after.perSecond / r.before.perSecond));
  console.log(`median change: CPU ${change(1, cpu)}, throughput ${change(1, rate)}`);
} finally {
  git('worktree', 'remove', '--force', before);
  rmSync(before, { recursive: true, force: true });
}
