/**
 * A services folder outside this checkout (a team's own repository, /srv/...) has no SDK
 * installed beside it: its services still import '@runlet/sdk', whether tsx runs them as ES
 * modules or as CommonJS, and the SDK's errors keep their meaning across the two copies.
 * A folder may also hold services that cannot be loaded: they never hide the others.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer, tempDirs, waitFor } from '../helpers.js';

const tempDir = tempDirs();

const doubler = `import { defineService, z, HttpError, NonRetryableError } from '@runlet/sdk';
export default defineService({
  input: z.object({ n: z.number() }),
  handler: ({ n }) => {
    if (n < 0) throw new HttpError(404, { error: 'negative' });
    if (n === 0) throw new NonRetryableError('zero is refused', 409);
    return { double: n * 2 };
  },
});
`;

for (const kind of ['CommonJS', 'ES modules'] as const) {
  describe(`a services folder outside the checkout, run as ${kind}`, () => {
    test('imports @runlet/sdk and answers with its input checks and its errors', async () => {
      const folder = tempDir('runlet-own-services-');
      assert.ok(!folder.startsWith(path.resolve(import.meta.dirname, '../../../..')), 'the folder is outside the checkout');
      if (kind === 'ES modules') writeFileSync(path.join(folder, 'package.json'), '{ "type": "module" }');
      writeFileSync(path.join(folder, 'doubler.ts'), doubler);
      const s = await startTestServer({ servicesDir: folder });
      try {
        const call = async (input: unknown) => {
          const res = await s.fetch('/run/doubler', { json: input });
          return { status: res.status, body: (await res.json()) as Record<string, unknown> };
        };
        assert.deepEqual(await call({ n: 21 }), { status: 200, body: { double: 42 } });
        assert.deepEqual(await call({ n: -1 }), { status: 404, body: { error: 'negative' } });
        assert.deepEqual(await call({ n: 0 }), { status: 409, body: { error: 'zero is refused' } });
        const invalid = await call({ n: 'x' });
        assert.equal(invalid.status, 422);
        assert.equal(invalid.body.code, 'INPUT_INVALID');
      } finally {
        await s.close();
      }
    });
  });
}

describe('a folder with services that cannot be loaded', () => {
  test('the others run; calling a broken one answers 503 with what is wrong with it', async () => {
    const folder = tempDir('runlet-broken-services-');
    const service = (name: string, files: Record<string, string>) => {
      mkdirSync(path.join(folder, name));
      for (const [file, text] of Object.entries(files)) writeFileSync(path.join(folder, name, file), text);
    };
    service('bad-json', { 'runlet.json': '{ "command": ["python3", "app.py"' });
    service('no-command', { 'runlet.json': '{ "description": "nothing to run" }' });
    service('bad-limit', { 'runlet.json': '{ "command": ["python3", "app.py"], "maxWorkers": -1 }' });
    writeFileSync(path.join(folder, 'fine.ts'), `import { defineService } from '@runlet/sdk';\nexport default defineService({ handler: () => ({ fine: true }) });\n`);
    const s = await startTestServer({ servicesDir: folder });
    try {
      assert.deepEqual(await (await s.fetch('/run/fine', { json: {} })).json(), { fine: true });
      // GET /services lists them apart, with why (the dashboard shows them under the services).
      const listed = (await (await s.fetch('/services')).json()) as { services: { id: string }[]; problems: { id: string; message: string }[] };
      assert.deepEqual(listed.services.map((x) => x.id), ['fine']);
      const problems = new Map(listed.problems.map((p) => [p.id, p.message]));
      assert.deepEqual([...problems.keys()].sort(), ['bad-json', 'bad-limit', 'no-command']);
      for (const [id, why] of [['bad-json', /runlet\.json is not valid JSON/], ['no-command', /needs a "command"/], ['bad-limit', /runlet\.json: maxWorkers/]] as const) {
        const res = await s.fetch(`/run/${id}`, { json: {} });
        assert.equal(res.status, 503);
        const body = (await res.json()) as { code: string; message: string };
        assert.equal(body.code, 'WORKER_START_FAILED');
        assert.match(body.message, why);
      }
    } finally {
      await s.close();
    }
  });
});

describe('a TypeScript service that cannot be loaded', () => {
  test('answers 503 saying where and why in a line or two, without the loader\'s own stack', async () => {
    const folder = tempDir('runlet-unloadable-');
    const sdk = "import { defineService } from '@runlet/sdk';\n";
    writeFileSync(path.join(folder, 'typo.ts'), `${sdk}export default defineService({ handler: () => ({ ok: true } });\n`);
    writeFileSync(path.join(folder, 'throws.ts'), `${sdk}const token = process.env.API_TOKEN;\nif (!token) throw new Error('API_TOKEN is not set');\nexport default defineService({ handler: () => ({}) });\n`);
    writeFileSync(path.join(folder, 'missing.ts'), `${sdk}import { helper } from './lib/helper.js';\nexport default defineService({ handler: () => helper() });\n`);
    const s = await startTestServer({ servicesDir: folder });
    try {
      const expected = {
        typo: /cannot load .*typo\.ts: .*typo\.ts:2:\d+: Expected "\)" but found "}"$/,
        throws: /cannot load .*throws\.ts: Error: API_TOKEN is not set\n {4}at .*throws\.ts:3:\d+$/,
        missing: /cannot load .*missing\.ts: Error: Cannot find module '\.\/lib\/helper\.js'/,
      };
      for (const [id, why] of Object.entries(expected)) {
        const res = await s.fetch(`/run/${id}`, { json: {} });
        assert.equal(res.status, 503);
        const body = (await res.json()) as { code: string; message: string };
        assert.equal(body.code, 'WORKER_START_FAILED');
        assert.match(body.message, why);
        assert.doesNotMatch(body.message, /node_modules|node:internal|triggerUncaughtException|Node\.js v/, `${id}: only what concerns the service`);
      }
    } finally {
      await s.close();
    }
  });
});

describe('a services folder that does not exist yet', () => {
  test('a watching server (runlet dev) makes it, and picks up the first service written into it', async () => {
    const folder = path.join(tempDir('runlet-new-project-'), 'services');
    const s = await startTestServer({ servicesDir: folder, watch: true });
    try {
      writeFileSync(path.join(folder, 'first.ts'), `import { defineService } from '@runlet/sdk';\nexport default defineService({ handler: () => ({ first: true }) });\n`);
      const answer = await waitFor(async () => {
        const res = await s.fetch('/run/first', { json: {} });
        return res.status === 200 ? ((await res.json()) as unknown) : undefined;
      }, 20_000, 'the first service');
      assert.deepEqual(answer, { first: true });
    } finally {
      await s.close();
    }
  });
});
