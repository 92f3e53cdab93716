import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { repo, runKiln } from '../e2e/triggers-support.ts';

const children = new Set<ChildProcess>();
let home: string;

/** Starts `kiln up` and resolves with the first stdout line, parsed. */
async function kilnUp(args: string[]): Promise<{ child: ChildProcess; ready: Record<string, unknown> }> {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', 'cli/main.ts', 'up', '--home', home, '--profile', 'zero', ...args], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`kiln up exited ${code} before its ready line: ${stderr.slice(-2000)}`)));
  });
  return { child, ready: JSON.parse(line) as Record<string, unknown> };
}


async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
  children.delete(child);
}

afterAll(async () => {
  for (const child of children) await stop(child, 'SIGKILL');
  if (home) await rm(home, { recursive: true, force: true });
});

describe('kiln up', () => {
  it('prints exactly the docs/design.md §6 ready keys, and keeps endpoints, keys and CA after kill -9', async () => {
    home = await mkdtemp(join(tmpdir(), 'kiln-up-'));
    const first = await kilnUp(['--port', '0', '--arm-port', '0', '--key-vault-port', '0', '--blob-port', '0']);
    expect(Object.keys(first.ready).sort()).toEqual([
      'apiKey', 'armEndpoint', 'blobConnectionString', 'caCertPath', 'functionsUrl', 'keyVaultUrl', 'kilnHome', 'ready', 'subscriptionId',
    ]);
    expect(first.ready).toMatchObject({
      ready: true,
      subscriptionId: '00000000-0000-0000-0000-000000000000',
      kilnHome: home,
    });
    expect(String(first.ready.functionsUrl)).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(String(first.ready.armEndpoint)).toMatch(/^https:\/\/127\.0\.0\.1:\d+/);
    expect(String(first.ready.blobConnectionString)).toContain('BlobEndpoint=http://127.0.0.1:');
    const ca = await readFile(String(first.ready.caCertPath), 'utf8');
    expect(ca).toContain('BEGIN CERTIFICATE');

    // The API answers with the printed key.
    const builds = await fetch(`${first.ready.functionsUrl}/api/builds`, { headers: { 'x-functions-key': String(first.ready.apiKey) } });
    expect(builds.status).toBe(200);
    // With no --endpoint the other commands find this `kiln up` through its home.
    const status = await runKiln(['status', 'ubuntu-web-20261125T131900Z-0000', '--home', home]);
    expect(status).toMatchObject({ code: 1, stderr: 'kiln: run "ubuntu-web-20261125T131900Z-0000" does not exist (HTTP 404)\n' });
    expect(await runKiln(['templates', 'list', '--home', home])).toMatchObject({ code: 0, stdout: '' });
    // `kiln bake` on a home whose `kiln up` is running bakes through it instead of starting a second one.
    const template = join(home, 'ubuntu-web.json');
    const example = await readFile(join(repo, 'examples/ubuntu-web.json'), 'utf8');
    await writeFile(template, example.replaceAll('https://127.0.0.1:8443/', `${new URL(String(first.ready.armEndpoint)).origin}/`));
    const baked = await runKiln(['bake', template, '--json', '--home', home]);
    expect(baked.code, baked.stderr.slice(-2000)).toBe(0);
    const record = JSON.parse(baked.stdout) as { id: string; status: string };
    expect(record.status).toBe('Succeeded');
    const listed = await fetch(`${first.ready.functionsUrl}/api/builds/${record.id}`, { headers: { 'x-functions-key': String(first.ready.apiKey) } });
    expect(listed.status).toBe(200);

    // kill -9 leaves the first one's Azurite behind, holding its port; the restart on the same home stops it.
    await stop(first.child, 'SIGKILL');
    const second = await kilnUp([]);
    expect(second.ready).toEqual(first.ready);
    expect(await readFile(String(second.ready.caCertPath), 'utf8')).toBe(ca);
    await stop(second.child, 'SIGTERM');
  }, 240_000);
});
