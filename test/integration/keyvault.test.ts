// The emulated Key Vault through the real @azure/keyvault-secrets SecretClient: challenge auth, CRUD, errors, faults.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretClient } from '@azure/keyvault-secrets';
import { RestError } from '@azure/core-rest-pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFaultController } from '../../local/azure/faults.ts';
import { startKeyVaultServer, type KeyVaultServer } from '../../local/azure/keyvault.ts';
import { loadOrCreateCertificate, type EmulatorCertificate } from '../../local/azure/tls.ts';

const TOKEN = 'kiln-local-token';
const credential = { getToken: async () => ({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }) };

let home: string;
let cert: EmulatorCertificate;
let vault: KeyVaultServer;
const faults = createFaultController();

function client(options: { retryOptions?: { maxRetries: number } } = {}): SecretClient {
  return new SecretClient(vault.url, credential, {
    tlsOptions: { ca: cert.caPem },
    disableChallengeResourceVerification: true,
    ...options,
  });
}

/** A raw HTTPS request, to see exactly what the SDK hides (status, headers, body). */
function raw(
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${vault.url}${path}`, { method, ca: cert.caPem, headers }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'kiln-kv-'));
  cert = await loadOrCreateCertificate(home);
  vault = await startKeyVaultServer({ home, tls: cert, faults, token: TOKEN, seedSecrets: { 'db-password': 'seeded-value' } });
});

afterAll(async () => {
  await vault?.close();
  await rm(home, { recursive: true, force: true });
});

describe('emulated Key Vault through SecretClient', () => {
  it('answers the unauthenticated first request with the Key Vault challenge', async () => {
    const response = await raw('/secrets/db-password/?api%2Dversion=2025-07-01');
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toBe(
      'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001", resource="https://vault.azure.net"',
    );
    expect(JSON.parse(response.body).error.code).toBe('Unauthorized');
    const wrongToken = await raw('/secrets/db-password/?api-version=2025-07-01', { authorization: 'Bearer nope' });
    expect(wrongToken.status).toBe(401);
  });

  it('serves a seeded secret, sets new versions and lists them', async () => {
    const secrets = client();
    const seeded = await secrets.getSecret('db-password');
    expect(seeded.value).toBe('seeded-value');
    expect(seeded.properties.vaultUrl).toBe(vault.url);
    expect(seeded.properties.createdOn).toBeInstanceOf(Date);
    expect(Math.abs(seeded.properties.createdOn!.getTime() - Date.now())).toBeLessThan(60_000);

    const first = await secrets.setSecret('api-key', 'one', { contentType: 'text/plain', tags: { owner: 'kiln' } });
    const second = await secrets.setSecret('api-key', 'two');
    expect(first.properties.version).toMatch(/^[0-9a-f]{32}$/);
    expect(second.properties.version).not.toBe(first.properties.version);
    expect((await secrets.getSecret('api-key')).value).toBe('two');
    expect((await secrets.getSecret('api-key', { version: first.properties.version! })).value).toBe('one');
    expect((await secrets.getSecret('API-KEY')).value).toBe('two');

    const versions: string[] = [];
    for await (const properties of secrets.listPropertiesOfSecretVersions('api-key')) versions.push(properties.version!);
    expect(versions.sort()).toEqual([first.properties.version, second.properties.version].sort());

    const names: string[] = [];
    for await (const properties of secrets.listPropertiesOfSecrets()) names.push(properties.name);
    expect(names.sort()).toEqual(['api-key', 'db-password']);
  });

  it('pages lists with nextLink that the SDK follows', async () => {
    const secrets = client();
    for (let index = 0; index < 30; index += 1) await secrets.setSecret('paged', `v${index}`);
    let count = 0;
    let pages = 0;
    for await (const page of secrets.listPropertiesOfSecretVersions('paged').byPage({ maxPageSize: 25 })) {
      pages += 1;
      count += page.length;
    }
    expect(count).toBe(30);
    expect(pages).toBe(2);
  });

  it('gives Key Vault errors as RestError with code and statusCode', async () => {
    const secrets = client();
    const missing = await secrets.getSecret('no-such-secret').catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(RestError);
    expect((missing as RestError).statusCode).toBe(404);
    expect((missing as RestError).code).toBe('SecretNotFound');

    const badName = await secrets.setSecret('bad_name', 'x').catch((error: unknown) => error);
    expect((badName as RestError).statusCode).toBe(400);
    expect((badName as RestError).code).toBe('BadParameter');

    await secrets.setSecret('switched-off', 'hidden', { enabled: false });
    const disabled = await secrets.getSecret('switched-off').catch((error: unknown) => error);
    expect((disabled as RestError).statusCode).toBe(403);
    expect((disabled as RestError).message).not.toContain('hidden');
  });

  it('rejects unknown api-versions and malformed bodies without crashing', async () => {
    const unknownVersion = await raw('/secrets/db-password/?api-version=1999-01-01', { authorization: `Bearer ${TOKEN}` });
    expect(unknownVersion.status).toBe(400);
    expect(JSON.parse(unknownVersion.body).error.message).toContain('1999-01-01');

    const malformed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${vault.url}/secrets/x?api-version=2025-07-01`,
        { method: 'PUT', ca: cert.caPem, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end('{"value": 42');
    });
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body).error.code).toBe('BadParameter');

    const auth = { authorization: `Bearer ${TOKEN}` };
    const unsupportedMethod = await raw('/secrets/db-password?api-version=2025-07-01', auth, 'DELETE');
    expect(unsupportedMethod.status).toBe(405);
    expect(JSON.parse(unsupportedMethod.body).error.code).toBe('MethodNotAllowed');
    const unknownPath = await raw('/keys/some-key?api-version=2025-07-01', auth);
    expect(unknownPath.status).toBe(404);
    expect(JSON.parse(unknownPath.body).error.message).toContain('/keys/some-key');
    const noVersion = await raw('/secrets/db-password/', auth);
    expect(noVersion.status).toBe(400);
    expect(JSON.parse(noVersion.body).error.message).toContain('api-version');
    expect((await client().getSecret('db-password')).value).toBe('seeded-value');
  });

  it('throttles with Retry-After, which the SDK honours, and injects 500s', async () => {
    faults.set([{ match: { operation: 'secrets.get' }, kind: 'throttle', retryAfterSeconds: 1, count: 1 }]);
    const started = Date.now();
    expect((await client().getSecret('db-password')).value).toBe('seeded-value');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(faults.list()[0]?.fired).toBe(1);

    faults.set([{ match: { operation: 'secrets.set' }, kind: 'error500' }]);
    const failed = await client({ retryOptions: { maxRetries: 0 } }).setSecret('x', 'y').catch((error: unknown) => error);
    expect((failed as RestError).statusCode).toBe(500);
    faults.clear();
  });

  it('keeps secrets across a restart, and a seed never overwrites one', async () => {
    await client().setSecret('persisted', 'survives-restart');
    await vault.close();
    vault = await startKeyVaultServer({ home, tls: cert, token: TOKEN, seedSecrets: { persisted: 'must-not-overwrite' } });
    expect((await client().getSecret('persisted')).value).toBe('survives-restart');
    const stored = await readFile(join(home, 'keyvault', 'secrets.json'), 'utf8');
    expect(stored).toContain('survives-restart');
  });
});
