// The emulator as its own process (local/azure/main.ts): one JSON ready line, SDK calls against it, faults set
// over HTTPS from this process, state kept across a restart on the same home, clean exit on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ResourceManagementClient } from '@azure/arm-resources';
import { afterAll, describe, expect, it } from 'vitest';

const MAIN = join(import.meta.dirname, '..', '..', 'local', 'azure', 'main.ts');
const children: ChildProcess[] = [];
let home: string | undefined;

interface Ready {
  armEndpoint: string;
  keyVaultUrl: string;
  caCertPath: string;
  subscriptionId: string;
  tenantId: string;
  token: string;
}

async function startMain(dir: string): Promise<{ child: ChildProcess; ready: Ready }> {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', MAIN, '--home', dir, '--profile', 'zero'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code} before it was ready`)));
  });
  return { child, ready: JSON.parse(line) as Ready };
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (home) await rm(home, { recursive: true, force: true });
});

describe('main.ts', () => {
  it('prints its endpoints, serves the SDK, takes faults over HTTPS, and keeps state across a restart', async () => {
    home = await mkdtemp(join(tmpdir(), 'kiln-emulator-main-'));
    const first = await startMain(home);
    expect(first.ready).toMatchObject({ armEndpoint: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+$/), keyVaultUrl: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+$/), subscriptionId: '00000000-0000-0000-0000-000000000000' });
    const ca = await readFile(first.ready.caCertPath, 'utf8');
    const client = (ready: Ready) => new ResourceManagementClient({ getToken: async () => ({ token: ready.token, expiresOnTimestamp: Date.now() + 3_600_000 }) }, ready.subscriptionId, { endpoint: ready.armEndpoint, tlsOptions: { ca } });
    await client(first.ready).resourceGroups.createOrUpdate('kept', { location: 'eastus' });

    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${first.ready.armEndpoint}/_emulator/faults`, { method: 'PUT', ca, headers: { authorization: `Bearer ${first.ready.token}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(JSON.stringify([{ match: { operation: 'resourceGroups.get' }, kind: 'throttle', retryAfterSeconds: 0 }]));
    });
    expect(status).toBe(200);
    await expect(client(first.ready).resourceGroups.get('kept')).rejects.toMatchObject({ statusCode: 429 });
    expect(await stop(first.child)).toBe(0);

    const second = await startMain(home);
    expect(second.ready.token).toBe(first.ready.token);
    expect((await client(second.ready).resourceGroups.get('kept')).name).toBe('kept');
    expect(await stop(second.child)).toBe(0);
  });
});
