import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_REQUEST_BODY_LIMIT, requestBodyLimit } from '../../local/host/http-triggers.ts';
import { startLocalHost, type LocalHost } from '../../local/host/index.ts';
import { writeUntilAnswered } from '../support/endless-body.ts';

const fixtures = join(import.meta.dirname, '../fixtures/host-apps');
const home = mkdtempSync(join(tmpdir(), 'kiln-host-http-'));
let host: LocalHost;
const logs: string[] = [];
// A small body limit keeps the 413 tests fast; the default is Azure's 100 MB.
const BODY_LIMIT = 64 * 1024;

beforeAll(async () => {
  host = await startLocalHost({
    appEntry: join(fixtures, 'http-app.ts'),
    home,
    port: 0,
    settings: { HOST_TEST_SETTING: 'from-settings', HOST_TEST_HUB: 'httphub', FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: String(BODY_LIMIT) },
    hostJsonPath: join(fixtures, 'host.json'),
    log: (line) => logs.push(line),
  });
});

afterAll(async () => {
  await host?.close();
  rmSync(home, { recursive: true, force: true });
});

function url(path: string, key?: string): string {
  const u = new URL(path, host.url);
  if (key) u.searchParams.set('code', key);
  return u.href;
}

describe('local host HTTP triggers', () => {
  it('binds route parameters and query, after copying settings into the environment', async () => {
    const response = await fetch(url('/api/hello/world?q=1'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ name: 'world', q: '1', settingAtImport: 'from-settings' });
  });

  it('answers 404 for an unknown route and outside the route prefix', async () => {
    const unknown = await fetch(url('/api/nothing/here'));
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toBe('application/problem+json');
    expect(((await unknown.json()) as { detail: string }).detail).toMatch(/no function serves \/api\/nothing\/here/);
    expect((await fetch(url('/hello/world'))).status).toBe(404);
  });

  it('answers 405 with Allow for a known route and a wrong method', async () => {
    const response = await fetch(url('/api/hello/world'), { method: 'DELETE' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET');
  });

  it('requires the function key (query or header) and accepts the admin key at function level', async () => {
    const body = JSON.stringify({ a: 1 });
    const post = (target: string, headers: Record<string, string> = {}) =>
      fetch(target, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
    expect((await post(url('/api/echo'))).status).toBe(401);
    expect((await post(url('/api/echo', 'wrong-key'))).status).toBe(401);
    const withQuery = await post(url('/api/echo', host.keys.function));
    expect(withQuery.status).toBe(201);
    expect(await withQuery.text()).toBe(body);
    expect(withQuery.headers.get('x-echo-method')).toBe('POST');
    expect(withQuery.headers.get('content-type')).toBe('application/json');
    expect(withQuery.headers.get('set-cookie')).toBe('seen=yes; HttpOnly');
    expect((await post(url('/api/echo'), { 'x-functions-key': host.keys.function })).status).toBe(201);
    expect((await post(url('/api/echo', host.keys.admin))).status).toBe(201);
  });

  it('accepts only the admin key at admin level', async () => {
    expect((await fetch(url('/api/admin-thing', host.keys.function))).status).toBe(401);
    const response = await fetch(url('/api/admin-thing', host.keys.admin));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('admin ok');
  });

  it('prefers the constrained route, and serves optional parameters and the default route', async () => {
    expect(await (await fetch(url('/api/items/42'))).json()).toEqual({ by: 'id', id: 42 });
    expect(await (await fetch(url('/api/items/abc'))).json()).toEqual({ by: 'slug', slug: 'abc' });
    expect((await fetch(url('/api/items/42'), { method: 'DELETE' })).status).toBe(200);
    expect(await (await fetch(url('/api/opt'))).json()).toEqual({ part: null });
    expect(await (await fetch(url('/api/opt/x'))).json()).toEqual({ part: 'x' });
    expect(await (await fetch(url('/api/DefaultRoute'), { method: 'POST' })).text()).toBe('default POST');
    expect(await (await fetch(url('/api/defaultroute'))).text()).toBe('default GET');
  });

  it('turns a throwing handler into a 500 problem and keeps serving', async () => {
    const response = await fetch(url('/api/boom'));
    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({ status: 500, detail: "function 'boom' failed: kaboom" });
    expect((await fetch(url('/api/hello/again'))).status).toBe(200);
  });

  it('fails an invocation that outlives host.json functionTimeout with a clear message', async () => {
    const started = Date.now();
    const response = await fetch(url('/api/slow'));
    expect(response.status).toBe(500);
    expect(((await response.json()) as { detail: string }).detail).toMatch(/Timeout value of 00:00:01 \(host.json functionTimeout\) was exceeded by function 'slow'/);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('refuses a body over the request body limit with 413 by its Content-Length, and takes one at the limit', async () => {
    const post = (bytes: number) => fetch(url('/api/echo', host.keys.function), { method: 'POST', body: Buffer.alloc(bytes, 'k') });
    const atLimit = await post(BODY_LIMIT);
    expect(atLimit.status).toBe(201);
    expect((await atLimit.text()).length).toBe(BODY_LIMIT);
    const over = await post(BODY_LIMIT + 1);
    expect(over.status).toBe(413);
    expect(over.headers.get('content-type')).toBe('application/problem+json');
    expect(await over.json()).toMatchObject({
      status: 413,
      detail: `the request's Content-Length is ${BODY_LIMIT + 1} bytes; the host accepts at most ${BODY_LIMIT} bytes (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT)`,
    });
  });

  it('answers 413 while a body without a Content-Length is still arriving, as soon as it passes the limit', async () => {
    // The request never ends on its own: without the limit the host would wait for the end and never answer.
    const target = new URL(url('/api/echo', host.keys.function));
    const req = httpRequest(target, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } });
    req.on('error', () => undefined); // destroyed below while a write may still be pending
    const cap = 4096; // 64 MiB: far more than the host reads before it answers
    const { response: early, written, answered } = await writeUntilAnswered(req, Buffer.alloc(16 * 1024, 'k'), cap);
    if (!early) req.end();
    const response = early ?? (await answered);
    const text = await new Promise<string>((resolve) => {
      let body = '';
      response.setEncoding('utf8').on('data', (part: string) => (body += part)).on('end', () => resolve(body));
    });
    req.destroy();
    expect(response.statusCode).toBe(413);
    expect(JSON.parse(text)).toMatchObject({ status: 413, detail: `the request body has more than ${BODY_LIMIT} bytes; the host accepts at most ${BODY_LIMIT} bytes (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT)` });
    expect(written).toBeLessThan(cap);
    expect((await fetch(url('/api/hello/after'))).status).toBe(200);
  });

  it('reads the limit from FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, Azure\'s 100 MB by default', () => {
    expect(requestBodyLimit({})).toBe(DEFAULT_REQUEST_BODY_LIMIT);
    expect(DEFAULT_REQUEST_BODY_LIMIT).toBe(104_857_600);
    expect(requestBodyLimit({ FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '2048' })).toBe(2048);
    for (const bad of ['0', '-1', '1.5', 'lots']) {
      expect(() => requestBodyLimit({ FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: bad })).toThrow(
        `setting FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: expected a positive whole number of bytes, found ${JSON.stringify(bad)}`,
      );
    }
  });

  it('keeps generated keys under its home, and reuses them on restart', async () => {
    const saved = JSON.parse(readFileSync(join(home, 'keys.json'), 'utf8'));
    expect(saved).toEqual(host.keys);
    const again = await startLocalHost({
      appEntry: join(fixtures, 'http-app.ts'),
      home,
      port: 0,
      settings: { HOST_TEST_HUB: 'httphub' },
      hostJsonPath: join(fixtures, 'host.json'),
      log: () => undefined,
    });
    try {
      expect(again.keys).toEqual(host.keys);
      expect((await fetch(new URL(`/api/admin-thing?code=${again.keys.admin}`, again.url))).status).toBe(200);
    } finally {
      await again.close();
    }
  });
});
