/**
 * Node 20 is Runlet's floor (package.json `engines`): every installed package must say it runs
 * there. npm only warns when one does not, and a package that asks for a later Node may use
 * what Node 20 lacks, so this turns the warning into a failure.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import semver from 'semver';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Every package folder under a `node_modules`, nested ones and workspaces' own included. */
function installedPackages(nodeModules: string): string[] {
  if (!existsSync(nodeModules)) return [];
  return readdirSync(nodeModules, { withFileTypes: true }).flatMap((entry) => {
    if (!entry.isDirectory() || entry.name.startsWith('.')) return [];
    const dir = path.join(nodeModules, entry.name);
    if (entry.name.startsWith('@')) return installedPackages(dir);
    return [dir, ...installedPackages(path.join(dir, 'node_modules'))];
  });
}

test("every installed package's engines allow the project's Node floor", () => {
  const floor = semver.minVersion((JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node)!;
  const folders = [path.join(ROOT, 'node_modules'), ...readdirSync(path.join(ROOT, 'packages')).map((p) => path.join(ROOT, 'packages', p, 'node_modules'))];
  const packages = folders.flatMap(installedPackages).filter((dir) => existsSync(path.join(dir, 'package.json')));
  assert.ok(packages.length > 100, 'the installed packages were found');
  const refused = packages.flatMap((dir) => {
    const { name, version, engines } = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string; engines?: { node?: unknown } };
    const wanted = engines?.node;
    if (typeof wanted !== 'string' || !semver.validRange(wanted)) return [];
    return semver.satisfies(floor, wanted) ? [] : [`${name}@${version} wants node ${wanted}`];
  });
  assert.deepEqual(refused, [], `Node ${floor} is the floor`);
});
