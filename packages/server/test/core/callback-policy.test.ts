/** The callback policy on its own: host allow-list, allowed networks, and the lookup deliveries connect with. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CallbackPolicy } from '../../src/webhooks/callback-policy.js';
import { RunletError } from '../../src/errors.js';

const refusedWith = (code: string) => (err: unknown) => err instanceof RunletError && err.code === code;

test('an allow-list of hosts admits those hosts (and subdomains of a *. entry) only', () => {
  const policy = new CallbackPolicy({ allowedHosts: ['hooks.example.com', '*.acme.test'], allowedNetworks: [] });
  assert.equal(policy.accept('https://hooks.example.com/x').hostname, 'hooks.example.com');
  assert.ok(policy.accept('https://a.b.acme.test/'));
  for (const url of ['https://example.com/', 'https://evil-hooks.example.com/', 'https://acme.test.evil.com/', 'https://8.8.8.8/']) {
    assert.throws(() => policy.accept(url), refusedWith('CALLBACK_URL_NOT_ALLOWED'), url);
  }
});

test('allowed networks open private ranges one by one', () => {
  const policy = new CallbackPolicy({ allowedHosts: [], allowedNetworks: ['127.0.0.0/8', '10.20.0.0/16'] });
  assert.equal(policy.refusalOf('127.0.0.1'), undefined);
  assert.equal(policy.refusalOf('10.20.3.4'), undefined);
  assert.equal(policy.refusalOf('::ffff:127.0.0.1'), undefined, 'an IPv4-mapped address is judged as IPv4');
  assert.match(policy.refusalOf('10.21.0.1')!, /private/);
  assert.match(policy.refusalOf('::1')!, /loopback/);
  assert.match(policy.refusalOf('fe80::1')!, /linkLocal/);
  assert.equal(policy.refusalOf('93.184.216.34'), undefined, 'public addresses are fine');
});

test('the lookup refuses a name that resolves to a refused address', async () => {
  const policy = new CallbackPolicy({ allowedHosts: [], allowedNetworks: [] });
  const err = await new Promise<Error | null>((resolve) => policy.lookup('localhost', {}, (e) => resolve(e)));
  assert.ok(err instanceof RunletError && err.code === 'CALLBACK_URL_NOT_ALLOWED');
  assert.match(err.message, /loopback/);
  const open = new CallbackPolicy({ allowedHosts: [], allowedNetworks: ['127.0.0.0/8', '::1/128'] });
  const address = await new Promise<string>((resolve, reject) => open.lookup('localhost', {}, (e, a) => (e ? reject(e) : resolve(a as string))));
  assert.match(address, /^(127\.|::1$)/);
});
