import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '../..');
const fixtures = join(repoRoot, 'test/fixtures/host-apps');
const home = mkdtempSync(join(tmpdir(), 'kiln-host-main-'));
let child: ChildProcess;
let ready: { ready: boolean; url: string; pid: number };
const functionKey = 'test-function-key';

beforeAll(async () => {
  const settingsFile = join(home, 'local.settings.json');
  writeFileSync(settingsFile, JSON.stringify({ IsEncrypted: false, Values: { HOST_TEST_HUB: 'mainhub' } }));
  child = spawn(
    process.execPath,
    [
      '--disable-warning=ExperimentalWarning',
      join(repoRoot, 'local/host/main.ts'),
      '--app', join(fixtures, 'durable-app.ts'),
      '--home', join(home, 'host'),
      '--port', '0',
      '--settings', settingsFile,
      '--host-json', join(fixtures, 'host.json'),
      '--function-key', functionKey,
      '--admin-key', 'test-admin-key',
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  ready = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line));
    });
    child.once('exit', (code) => reject(new Error(`host exited with ${code} before ready: ${stderr}`)));
  });
});

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  }
  rmSync(home, { recursive: true, force: true });
});

describe('local host as a child process', () => {
  it('prints one JSON ready line with its URL', () => {
    expect(ready).toMatchObject({ ready: true, pid: child.pid });
    expect(ready.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('gives df.app.client handlers a working durable client: start, check status, complete', async () => {
    expect((await fetch(`${ready.url}/api/start/Tokyo`, { method: 'POST' })).status).toBe(401);
    const started = await fetch(`${ready.url}/api/start/Tokyo?code=${functionKey}`, { method: 'POST' });
    expect(started.status).toBe(202);
    const payload = (await started.json()) as { id: string; statusQueryGetUri: string };
    expect(started.headers.get('location')).toBe(payload.statusQueryGetUri);
    expect(new URL(payload.statusQueryGetUri).origin).toBe(ready.url);

    const deadline = Date.now() + 10_000;
    let status: { runtimeStatus: string; output: unknown } = { runtimeStatus: 'Pending', output: null };
    while (status.runtimeStatus !== 'Completed' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await (await fetch(payload.statusQueryGetUri)).json()) as typeof status;
    }
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 'Hello Tokyo!' });
  });

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
