/**
 * The dependency rules of DESIGN.md, checked on the source: packages depend one way, the
 * server's layers never import upwards, and no module imports itself back through others.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const PACKAGES = fileURLToPath(new URL('../../', import.meta.url));

interface Import {
  from: string;
  /** A relative import resolved to a file, or the bare package name. */
  to: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'node_modules' ? [] : sourceFiles(full);
    return /\.(ts|tsx)$/.test(name) && !name.endsWith('.d.ts') ? [full] : [];
  });
}

function importsOf(file: string): Import[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const found: Import[] = [];
  for (const node of source.statements) {
    if (!(ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) || !node.moduleSpecifier || !ts.isStringLiteral(node.moduleSpecifier)) continue;
    const spec = node.moduleSpecifier.text;
    const typeOnly = ts.isImportDeclaration(node) ? isTypeOnlyImport(node) : node.isTypeOnly;
    const to = spec.startsWith('.') ? path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts') : spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
    found.push({ from: file, to, typeOnly });
  }
  return found;
}

function isTypeOnlyImport(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  if (!clause) return false; // a side-effect import runs code
  if (clause.isTypeOnly) return true;
  const bindings = clause.namedBindings;
  return !clause.name && !!bindings && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly);
}

const srcOf = (pkg: string) => path.join(PACKAGES, pkg, 'src');
const imports = ['protocol', 'sdk', 'client', 'server'].flatMap((pkg) => sourceFiles(srcOf(pkg)).flatMap(importsOf));
const relative = (file: string) => path.relative(PACKAGES, file);

test('packages depend one way: protocol on none, sdk and client never on the server', () => {
  const forbidden: Record<string, string[]> = {
    protocol: ['@runlet/server', '@runlet/sdk', '@runlet/client'],
    sdk: ['@runlet/server', '@runlet/client'],
    client: ['@runlet/server', '@runlet/sdk'],
  };
  const broken = imports.filter((i) => {
    const pkg = relative(i.from).split(path.sep)[0]!;
    const bannedPackage = forbidden[pkg]?.includes(i.to);
    const reachesAcross = path.isAbsolute(i.to) && !i.to.startsWith(srcOf(pkg));
    return bannedPackage || reachesAcross;
  });
  assert.deepEqual(broken.map((i) => `${relative(i.from)} -> ${path.isAbsolute(i.to) ? relative(i.to) : i.to}`), []);
});

/**
 * The server's layers, lowest first: a module may import its own layer and those below.
 * `runtime.ts` wires the lower layers together; http serves a runtime; the CLI starts a server.
 */
const LAYERS: string[][] = [
  ['config.ts', 'errors.ts', 'ids.ts', 'version.ts'],
  ['store'],
  ['secrets'],
  ['keys', 'logs', 'workers', 'files'],
  ['engine'],
  // Users, sessions and environment variables: they read the store and recycle workers.
  ['accounts'],
  // Completion webhooks deliver what the engine recorded.
  ['webhooks'],
  ['runtime.ts'],
  ['http'],
  ['server.ts'],
  ['cli', 'index.ts'],
];

function layerOf(file: string): number {
  const top = path.relative(srcOf('server'), file).split(path.sep)[0]!;
  const layer = LAYERS.findIndex((names) => names.includes(top));
  assert.notEqual(layer, -1, `${top} (in ${relative(file)}) belongs to no layer: add it to LAYERS`);
  return layer;
}

test("the server's layers never import upwards (http → engine → store, workers, logs, files)", () => {
  const server = imports.filter((i) => i.from.startsWith(srcOf('server')) && i.to.startsWith(srcOf('server')));
  assert.ok(server.length > 50, 'the check sees the server source');
  const upwards = server.filter((i) => layerOf(i.to) > layerOf(i.from));
  assert.deepEqual(upwards.map((i) => `${relative(i.from)} -> ${relative(i.to)}`), []);
});

test('no import cycles among modules (imports of types only aside)', () => {
  const graph = new Map<string, string[]>();
  for (const i of imports) {
    if (i.typeOnly || !path.isAbsolute(i.to)) continue;
    graph.set(i.from, [...(graph.get(i.from) ?? []), i.to]);
  }
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (file: string, trail: string[]) => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      cycles.push([...trail.slice(trail.indexOf(file)), file].map(relative).join(' -> '));
      return;
    }
    state.set(file, 'open');
    for (const next of graph.get(file) ?? []) visit(next, [...trail, file]);
    state.set(file, 'done');
  };
  for (const file of graph.keys()) visit(file, []);
  assert.deepEqual(cycles, []);
});
