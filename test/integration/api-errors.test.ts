import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalDefault, type LocalDefault } from '../../local/default.ts';
import { UPLOADS_CONTAINER, uploadBlobName } from '../../src/template/uploads.ts';

let local: LocalDefault;
let home: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'kiln-api-errors-'));
  local = await startLocalDefault({ home, functionsPort: 0, armPort: 0, keyVaultPort: 0, blobPort: 0, profile: 'zero' });
});

afterAll(async () => {
  await local?.close();
  await rm(home, { recursive: true, force: true });
});

async function call(method: string, path: string, options: { body?: string; key?: string | null } = {}): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const key = options.key === undefined ? local.apiKey : options.key;
  if (key !== null) headers['x-functions-key'] = key;
  return fetch(`${local.functionsUrl}/api/${path}`, { method, headers, body: options.body });
}

async function problemOf(response: Response): Promise<Record<string, unknown>> {
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  return (await response.json()) as Record<string, unknown>;
}

describe('401: the function key is required', () => {
  it('refuses a request without a key or with a wrong one', async () => {
    expect((await call('GET', 'builds', { key: null })).status).toBe(401);
    expect((await call('GET', 'builds', { key: 'not-the-key' })).status).toBe(401);
    expect((await call('POST', 'builds', { key: null, body: '{}' })).status).toBe(401);
    expect((await call('GET', 'builds')).status).toBe(200);
  });
});

describe('401 on every API route and method: no key, a wrong key, the durable system key', () => {
  const run = 'ubuntu-web-20261125T131900Z-0000';
  const routes: [string, string][] = [
    ['GET', 'builds'], ['POST', 'builds'], ['GET', `builds/${run}`], ['GET', `builds/${run}/logs`],
    ['POST', `builds/${run}/cancel`], ['POST', `builds/${run}/approve`], ['POST', `builds/${run}/retry`],
    ['GET', `builds/${run}/timeline`], ['GET', 'schedules'], ['GET', 'dashboard/files/app.js'],
    ['GET', 'templates'], ['GET', 'templates/web'], ['PUT', 'templates/web'], ['DELETE', 'templates/web'],
    ['PUT', `uploads/${'0'.repeat(64)}`],
  ];
  it.each(routes)('%s %s', async (method, path) => {
    const body = method === 'POST' || method === 'PUT' ? '{}' : undefined;
    for (const key of [null, 'not-the-key', local.host!.keys.system]) {
      expect((await call(method, path, { key, body })).status, `key ${key === null ? 'none' : key.slice(0, 4)}`).toBe(401);
    }
  });
});

describe('404: unknown ids', () => {
  it.each([
    ['GET', 'builds/ubuntu-web-20261125T131900Z-0000'],
    ['GET', 'builds/not-a-run-id'],
    ['GET', 'builds/ubuntu-web-20261125T131900Z-0000/logs'],
    ['POST', 'builds/ubuntu-web-20261125T131900Z-0000/cancel'],
    ['POST', 'builds/ubuntu-web-20261125T131900Z-0000/approve'],
    ['POST', 'builds/ubuntu-web-20261125T131900Z-0000/retry'],
    ['GET', 'templates/no-such-template'],
    ['DELETE', 'templates/no-such-template'],
    ['GET', 'templates/not%20a%20name'],
  ])('%s %s', async (method, path) => {
    const response = await call(method, path);
    expect(response.status).toBe(404);
    const problem = await problemOf(response);
    expect(problem).toMatchObject({ status: 404, title: 'Not Found' });
    expect(String(problem.detail)).toContain('does not exist');
  });

  it('starting a bake of a stored template that does not exist', async () => {
    const response = await call('POST', 'builds', { body: JSON.stringify({ templateName: 'never-stored' }) });
    expect(response.status).toBe(404);
  });
});

describe('405: wrong method', () => {
  it.each([
    ['DELETE', 'builds', 'GET, POST'],
    ['PUT', 'builds/ubuntu-web-20261125T131900Z-0000', 'GET'],
    ['GET', 'builds/ubuntu-web-20261125T131900Z-0000/cancel', 'POST'],
    ['POST', 'templates/x', 'GET, PUT, DELETE'],
  ])('%s %s', async (method, path, allow) => {
    const response = await call(method, path);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe(allow);
    expect(await problemOf(response)).toMatchObject({ status: 405 });
  });
});

describe('400: malformed bodies list every error', () => {
  it('a template with several errors gets all of them, with paths', async () => {
    const template = { properties: { source: { type: 'Nope' }, customize: 3, buildTimeoutInMinutes: 'long' } };
    const response = await call('POST', 'builds', { body: JSON.stringify(template) });
    expect(response.status).toBe(400);
    const problem = await problemOf(response);
    const errors = problem.errors as { path: string; message: string }[];
    const paths = errors.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['properties.source.type', 'properties.customize', 'properties.distribute']));
    expect(errors.length).toBeGreaterThanOrEqual(3);
    expect(problem.detail).toBe(`the request has ${errors.length} errors`);
  });

  it('a body that is not JSON, an empty body, a bad template name, a bad query', async () => {
    const notJson = await problemOf(await call('POST', 'builds', { body: '{"properties": ' }));
    expect(notJson).toMatchObject({ status: 400, errors: [{ path: '$' }] });
    expect((await call('POST', 'builds', { body: '' })).status).toBe(400);
    const badName = await call('PUT', 'templates/bad%20name', { body: '{}' });
    expect(badName.status).toBe(400);
    expect(await problemOf(badName)).toMatchObject({ errors: [{ path: 'name' }] });
    const stored = await problemOf(await call('POST', 'builds', { body: JSON.stringify({ templateName: 'bad name', extra: 1 }) }));
    expect((stored.errors as { path: string }[]).map((e) => e.path)).toEqual(['templateName', 'extra']);
    const query = await problemOf(await call('GET', 'builds?status=Bogus&limit=0'));
    expect((query.errors as { path: string }[]).map((e) => e.path)).toEqual(['status', 'limit']);
  });
});

describe('413: a JSON body over 1 MB', () => {
  it('is refused as too large on every JSON route, whether sent whole or streamed', async () => {
    const body = JSON.stringify({ templateName: 'x'.repeat(1_100_000) });
    for (const [method, path] of [['POST', 'builds'], ['PUT', 'templates/web'], ['POST', 'builds/ubuntu-web-20261125T131900Z-0000/approve']]) {
      const response = await call(method!, path!, { body });
      expect(response.status, `${method} ${path}`).toBe(413);
      expect(await problemOf(response)).toMatchObject({
        type: 'urn:kiln:problem:body-too-large',
        detail: `the body's Content-Length is ${body.length} bytes; expected at most 1000000 (1 MB)`,
      });
    }
    // Streamed (chunked, no Content-Length): the host reads it in, the handler stops at the limit.
    const streamed = await fetch(`${local.functionsUrl}/api/builds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-functions-key': local.apiKey },
      body: new Blob([body]).stream(),
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect((await problemOf(streamed)).detail).toBe('the body has more than 1000000 bytes; expected at most 1000000 (1 MB)');
  });
});

describe('PUT /uploads/{sha256}', () => {
  const upload = (path: string, body: string, key?: string | null) => call('PUT', `uploads/${path}`, { body, ...(key !== undefined ? { key } : {}) });
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');

  it('refuses no key, a wrong key, a name that is not a sha256 and a body that does not hash to its name', async () => {
    const body = 'echo refused\n';
    expect((await upload(sha(body), body, null)).status).toBe(401);
    expect((await upload(sha(body), body, 'not-the-key')).status).toBe(401);
    const badName = await upload('not-a-sha256', body);
    expect(badName.status).toBe(400);
    expect(await problemOf(badName)).toMatchObject({ type: 'urn:kiln:problem:invalid-upload', errors: [{ path: 'sha256', found: '"not-a-sha256"' }] });
    const mismatch = await upload(sha('other bytes'), body);
    expect(mismatch.status).toBe(400);
    expect(await problemOf(mismatch)).toMatchObject({ type: 'urn:kiln:problem:checksum-mismatch', detail: `the body (${body.length} bytes) does not hash to ${sha('other bytes')}` });
    const uploads = BlobServiceClient.fromConnectionString(local.blobConnectionString).getContainerClient(UPLOADS_CONTAINER);
    for (const name of [sha(body), sha('other bytes')]) expect(await uploads.getBlobClient(uploadBlobName(name)).exists()).toBe(false);
  });

  it('two identical uploads at once: one stores the file, the other finds it there, and the bytes are whole', async () => {
    const body = `#!/bin/sh\necho twice ${'x'.repeat(100_000)}\n`;
    const responses = await Promise.all([upload(sha(body), body), upload(sha(body), body)]);
    expect(responses.map((r) => r.status).sort()).toEqual([200, 201]);
    for (const response of responses) expect(await response.json()).toEqual({ sha256: sha(body), uri: `kiln-upload://sha256/${sha(body)}`, bytes: body.length });
    const stored = BlobServiceClient.fromConnectionString(local.blobConnectionString).getContainerClient(UPLOADS_CONTAINER).getBlobClient(uploadBlobName(sha(body)));
    expect((await stored.downloadToBuffer()).toString()).toBe(body);
  });
});

describe('a dropped template that is invalid', () => {
  it('becomes a Failed run record holding every validation error; runs list in pages', async () => {
    const templates = BlobServiceClient.fromConnectionString(local.blobConnectionString).getContainerClient('templates');
    const invalid = JSON.stringify({ properties: { source: 1, customize: 'x' } });
    for (const name of ['broken-a', 'broken-b', 'broken-c']) {
      await templates.getBlockBlobClient(`${name}.json`).upload(invalid, invalid.length);
    }
    await local.host!.pollBlobs();
    const failed = (await (await call('GET', 'builds?status=Failed')).json()) as { items: Record<string, unknown>[] };
    const broken = failed.items.filter((r) => String(r.templateName).startsWith('broken-'));
    expect(broken).toHaveLength(3);
    for (const record of broken) {
      expect(record).toMatchObject({ status: 'Failed', trigger: 'blob', error: { code: 'InvalidTemplate' } });
      expect((record.templateErrors as { path: string }[]).map((e) => e.path))
        .toEqual(expect.arrayContaining(['properties.source', 'properties.customize']));
    }

    const first = await call('GET', 'builds?limit=1');
    const page = (await first.json()) as { items: unknown[]; continuationToken?: string };
    expect(page.items).toHaveLength(1);
    expect(page.continuationToken).toBeTypeOf('string');
    expect(first.headers.get('link')).toContain('rel="next"');
    const next = (await (await call('GET', `builds?limit=1&continuationToken=${encodeURIComponent(page.continuationToken!)}`)).json()) as { items: { id: string }[] };
    expect(next.items).toHaveLength(1);
    expect(next.items[0]!.id).not.toBe((page.items[0] as { id: string }).id);
  });
});

describe('400 in under a second: a table of malformed inputs', () => {
  const run = 'ubuntu-web-20261125T131900Z-0000';
  const nested = (depth: number, open: string, close: string, inner = '1'): string => open.repeat(depth) + inner + close.repeat(depth);
  const deepArrays = nested(100_000, '[', ']');
  const deepObjects = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
  const cases: [name: string, method: string, path: string, body: string | Buffer | undefined, names: string][] = [
    ['templateName: 100k nested arrays', 'POST', 'builds', `{"templateName": ${deepArrays}}`, '$'],
    ['template: 100k nested objects', 'POST', 'builds', deepObjects, '$'],
    ['template nested 65 levels', 'POST', 'builds', `{"properties": ${nested(64, '[', ']')}}`, '$'],
    ['brackets inside strings do not count', 'POST', 'builds', JSON.stringify({ templateName: '['.repeat(200) }), 'templateName'],
    ['templateName: half a megabyte', 'POST', 'builds', JSON.stringify({ templateName: 'a'.repeat(500_000) }), 'templateName'],
    ['templateName: a number', 'POST', 'builds', '{"templateName": 5}', 'templateName'],
    ['templateName: an object', 'POST', 'builds', '{"templateName": {"a": [1]}}', 'templateName'],
    ['a member beside templateName', 'POST', 'builds', '{"templateName": "web", "x": 1}', 'x'],
    ['template: a number', 'POST', 'builds', '{"templateName": "web", "template": 3}', '$'],
    ['body: not JSON', 'POST', 'builds', '{"properties": ', '$'],
    ['body: empty', 'POST', 'builds', '', '$'],
    ['body: null', 'POST', 'builds', 'null', '$'],
    ['body: a string', 'POST', 'builds', '"template"', '$'],
    ['body: an array', 'POST', 'builds', '[]', '$'],
    ['body: invalid UTF-8', 'POST', 'builds', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), '$'],
    ['body: NUL bytes', 'POST', 'builds', '\u0000\u0000', '$'],
    ['approve: by nested 100k arrays', 'POST', `builds/${run}/approve`, `{"by": ${deepArrays}}`, '$'],
    ['approve: by an object', 'POST', `builds/${run}/approve`, '{"by": {"name": ["x"]}}', 'by'],
    ['approve: by a number', 'POST', `builds/${run}/approve`, '{"by": 7}', 'by'],
    ['approve: not JSON', 'POST', `builds/${run}/approve`, '{by}', '$'],
    ['list: continuationToken of NUL and 0xff', 'GET', 'builds?continuationToken=%00%ff%00%ff%00%ff', undefined, 'continuationToken'],
    ['list: continuationToken of 5000 characters', 'GET', `builds?continuationToken=${'A'.repeat(5000)}`, undefined, 'continuationToken'],
    ['list: continuationToken of control characters', 'GET', `builds?continuationToken=${Buffer.from('\u0001\u0002x').toString('base64url')}`, undefined, 'continuationToken'],
    ['list: continuationToken empty', 'GET', 'builds?continuationToken=', undefined, 'continuationToken'],
    ['list: continuationToken not canonical', 'GET', 'builds?continuationToken=QQ-', undefined, 'continuationToken'],
    ['list: status unknown', 'GET', 'builds?status=Nope', undefined, 'status'],
    ['list: status of NUL', 'GET', 'builds?status=%00', undefined, 'status'],
    ['list: limit 0', 'GET', 'builds?limit=0', undefined, 'limit'],
    ['list: limit huge', 'GET', 'builds?limit=1e9', undefined, 'limit'],
    ['list: limit not a number', 'GET', 'builds?limit=%ff', undefined, 'limit'],
    ['put template: 100k nested arrays', 'PUT', 'templates/web', deepArrays, '$'],
    ['put template: not JSON', 'PUT', 'templates/web', '{', '$'],
    ['put template: bad name', 'PUT', `templates/${'n'.repeat(65)}`, '{}', 'name'],
  ];
  const counts = { tried: 0, answered400: 0 };

  it.each(cases)('%s', async (_name, method, path, body, names) => {
    const started = performance.now();
    const response = await fetch(`${local.functionsUrl}/api/${path}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-functions-key': local.apiKey },
      body: body as string | Uint8Array<ArrayBuffer> | undefined,
    });
    const problem = (await response.json()) as { status: number; detail: string; errors?: { path: string; found?: string }[] };
    const elapsed = performance.now() - started;
    counts.tried++;
    if (response.status === 400) counts.answered400++;
    expect(response.status).toBe(400);
    expect(elapsed).toBeLessThan(1_000);
    if (names !== '') expect(problem.errors?.map((e) => e.path)).toContain(names);
    // An error never echoes a huge input back.
    for (const error of problem.errors ?? []) expect((error.found ?? '').length).toBeLessThan(200);
  });

  it('answered every malformed input with 400', () => {
    if (process.env.KILN_FUZZ_STATS) console.log(`malformed inputs: ${counts.tried} tried, ${counts.answered400} answered 400`);
    expect(counts).toEqual({ tried: cases.length, answered400: cases.length });
  });
});
