// Bad requests over raw HTTPS: missing or wrong token, unknown or missing api-version, malformed bodies, unknown
// operations. Each gets an Azure-shaped error and the server keeps serving. Also the /kiln-files and disk routes.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_POLL, UBUNTU, failure, startTestEmulator, vmModel, type TestEmulator } from './emulator-helpers.ts';
import { writeUntilAnswered } from '../support/endless-body.ts';

let t: TestEmulator;
let filesDir: string;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  error?: { code?: string; message?: string };
}

function call(method: string, path: string, options: { body?: string; token?: string | null } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const token = options.token === undefined ? t.emulator.token : options.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    const req = request(`${t.emulator.armEndpoint}${path}`, { method, ca: t.emulator.caPem, headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        let error: Reply['error'];
        try {
          error = (JSON.parse(text) as { error?: Reply['error'] }).error;
        } catch {
          error = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, error });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const sub = () => `/subscriptions/${t.emulator.subscriptionId}`;

beforeAll(async () => {
  filesDir = await mkdtemp(join(tmpdir(), 'kiln-emulator-files-'));
  await writeFile(join(filesDir, 'motd.txt'), 'hello from kiln\n');
  t = await startTestEmulator({ filesDir });
  await t.resources.resourceGroups.createOrUpdate('rg-bad', { location: 'eastus' });
});
afterAll(async () => {
  await t?.close();
  await rm(filesDir, { recursive: true, force: true });
});

/** ARM's body limit (4 MB), which the emulator keeps. */
const BODY_LIMIT = 4 * 1024 * 1024;

/** A response's body, read to its end. */
function textOf(response: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    response.setEncoding('utf8').on('data', (part: string) => (text += part)).on('end', () => resolve(text));
  });
}

describe('a body over 4 MB', () => {
  const group = () => `${sub()}/resourcegroups/rg-bad?api-version=2025-04-01`;

  it('is refused with 413 RequestEntityTooLarge through the real SDK, and the server serves on', async () => {
    const refused = await failure(t.resources.resourceGroups.createOrUpdate('rg-bad', { location: 'eastus', tags: { pad: 'x'.repeat(BODY_LIMIT) } }));
    expect(refused).toMatchObject({ statusCode: 413, code: 'RequestEntityTooLarge' });
    expect(refused.message).toBe(`The request content is larger than ${BODY_LIMIT} bytes.`);
    expect((await t.resources.resourceGroups.get('rg-bad')).tags).toBeUndefined();
  });

  it('is refused by its Content-Length before a byte of it arrives, and the connection closes', async () => {
    // The body is never sent: an answer that waited for it would never come.
    const req = request(`${t.emulator.armEndpoint}${group()}`, { method: 'PUT', ca: t.emulator.caPem, headers: { authorization: `Bearer ${t.emulator.token}`, 'content-type': 'application/json', 'content-length': String(BODY_LIMIT + 1) } });
    req.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => req.once('socket', (socket) => socket.once('close', () => resolve())));
    const response = await new Promise<IncomingMessage>((resolve) => {
      req.once('response', resolve);
      req.flushHeaders();
    });
    expect(response.statusCode).toBe(413);
    expect(response.headers.connection).toBe('close');
    expect(JSON.parse(await textOf(response))).toMatchObject({ error: { code: 'RequestEntityTooLarge' } });
    await closed;
  });

  it('is refused as soon as a streamed body passes the limit; the rest is not read and the connection closes', async () => {
    // Chunked, with no end of its own: without the limit the emulator would wait for the end and never answer.
    const req = request(`${t.emulator.armEndpoint}${group()}`, { method: 'PUT', ca: t.emulator.caPem, headers: { authorization: `Bearer ${t.emulator.token}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' } });
    req.on('error', () => undefined); // the server closes while a write may still be pending
    const closed = new Promise<void>((resolve) => req.once('socket', (socket) => socket.once('close', () => resolve())));
    const cap = 1024; // 64 MiB: far more than the emulator reads before it answers
    const { response, written } = await writeUntilAnswered(req, Buffer.alloc(64 * 1024, 'x'), cap);
    expect(response, `no answer after ${written} chunks of 64 KiB`).toBeDefined();
    expect(response!.statusCode).toBe(413);
    expect(response!.headers.connection).toBe('close');
    expect(JSON.parse(await textOf(response!))).toMatchObject({ error: { code: 'RequestEntityTooLarge', message: `The request content is larger than ${BODY_LIMIT} bytes.` } });
    expect(written).toBeLessThan(cap);
    await closed;
    expect((await call('GET', group())).status).toBe(200);
  });
});

describe('bad requests', () => {
  it('need a bearer token: 401 without one or with a wrong one', async () => {
    const none = await call('GET', `${sub()}/resourcegroups/rg-bad?api-version=2025-04-01`, { token: null });
    expect(none).toMatchObject({ status: 401, error: { code: 'AuthenticationFailed' } });
    expect(none.headers['www-authenticate']).toContain('Bearer');
    expect(await call('GET', `${sub()}/resourcegroups/rg-bad?api-version=2025-04-01`, { token: 'wrong' })).toMatchObject({ status: 401, error: { code: 'InvalidAuthenticationToken' } });
  });

  it('need a known api-version', async () => {
    expect(await call('GET', `${sub()}/resourcegroups/rg-bad`)).toMatchObject({ status: 400, error: { code: 'MissingApiVersionParameter' } });
    const unknown = await call('GET', `${sub()}/resourcegroups/rg-bad?api-version=2099-01-01`);
    expect(unknown).toMatchObject({ status: 400, error: { code: 'InvalidApiVersionParameter' } });
    expect(unknown.error?.message).toContain('2025-04-01');
    expect(await call('GET', `${sub()}/resourceGroups/rg-bad/providers/Microsoft.Compute/virtualMachines/x?api-version=1999-01-01`)).toMatchObject({ status: 400, error: { code: 'NoRegisteredProviderFound' } });
  });

  it('refuse malformed and mistyped bodies with InvalidRequestContent / InvalidParameter', async () => {
    const vm = `${sub()}/resourceGroups/rg-bad/providers/Microsoft.Compute/virtualMachines/vm1?api-version=2026-04-01`;
    expect(await call('PUT', vm, { body: '{"location": "eastus",' })).toMatchObject({ status: 400, error: { code: 'InvalidRequestContent' } });
    expect(await call('PUT', vm, { body: '[1,2]' })).toMatchObject({ status: 400, error: { code: 'InvalidRequestContent' } });
    expect(await call('PUT', vm)).toMatchObject({ status: 400, error: { code: 'InvalidRequestContent' } });
    const typed = await call('PUT', vm, { body: JSON.stringify({ location: 'eastus', properties: { hardwareProfile: 'big' } }) });
    expect(typed).toMatchObject({ status: 400, error: { code: 'InvalidParameter' } });
    expect(typed.error?.message).toContain('properties.hardwareProfile');
    expect(await call('PUT', vm, { body: JSON.stringify({ location: 'eastus', pad: 'x'.repeat(5 * 1024 * 1024) }) })).toMatchObject({ status: 413, error: { code: 'RequestEntityTooLarge' } });
    expect(await call('GET', `${sub()}/resourceGroups/bad%E0%A4%A/providers/Microsoft.Compute/virtualMachines/x?api-version=2026-04-01`)).toMatchObject({ status: 404, error: { code: 'ResourceGroupNotFound' } });
    const rc = `${sub()}/resourceGroups/rg-bad/providers/Microsoft.Compute/virtualMachines/vm1/runCommands/r?api-version=2026-04-01`;
    expect(await call('PUT', rc, { body: JSON.stringify({ location: 'eastus', properties: { source: { script: 'x', commandId: 'y' } } }) })).toMatchObject({ status: 400, error: { code: 'InvalidParameter' } });
  });

  it('answer unknown operations with 404/400 in ARM shape', async () => {
    const unknownType = await call('GET', `${sub()}/resourceGroups/rg-bad/providers/Microsoft.Compute/spaceships/x?api-version=2026-04-01`);
    expect(unknownType).toMatchObject({ status: 404, error: { code: 'InvalidResourceType' } });
    expect(await call('GET', '/nothing-here')).toMatchObject({ status: 404, error: { code: 'NotFound' } });
    const wrongMethod = await call('PATCH', `${sub()}/resourceGroups/rg-bad/providers/Microsoft.Compute/virtualMachines/x/start?api-version=2026-04-01`);
    expect(wrongMethod).toMatchObject({ status: 400, error: { code: 'UnsupportedOperation' } });
  });

  it('every response carries request ids, and the server still serves after all of the above', async () => {
    const ok = await call('GET', `${sub()}/resourcegroups/rg-bad?api-version=2025-04-01`);
    expect(ok.status).toBe(200);
    expect(ok.headers['x-ms-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(ok.headers['x-ms-correlation-request-id']).toBeDefined();
  });
});

describe('helper routes', () => {
  it('serve /kiln-files/{path} from filesDir without a token, and nothing outside it', async () => {
    const file = await call('GET', '/kiln-files/motd.txt', { token: null });
    expect(file).toMatchObject({ status: 200, text: 'hello from kiln\n' });
    expect((await call('GET', '/kiln-files/..%2F..%2Fetc%2Fpasswd', { token: null })).status).toBe(404);
    expect((await call('GET', '/kiln-files/missing.txt', { token: null })).status).toBe(404);
  });

  it('GET /_emulator/disks reads a file from a VM disk', async () => {
    await t.compute.virtualMachines.createOrUpdate('rg-bad', 'disk-vm', vmModel({ image: UBUNTU, name: 'disk-vm' }), FAST_POLL);
    const id = t.id('rg-bad/providers/Microsoft.Compute/virtualMachines/disk-vm');
    const hostname = await call('GET', `/_emulator/disks?id=${encodeURIComponent(id)}&path=/etc/hostname`);
    expect(hostname).toMatchObject({ status: 200, text: 'disk-vm\n' });
    expect((await call('GET', `/_emulator/disks?id=${encodeURIComponent(id)}&path=/no/such/file`)).status).toBe(404);
    expect((await call('GET', `/_emulator/disks?id=${encodeURIComponent(id)}&path=/etc/hostname`, { token: null })).status).toBe(401);
  });
});
