import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalDefault, type LocalDefault } from '../../local/default.ts';

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
