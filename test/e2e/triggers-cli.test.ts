import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/runs/record.ts';
import { exampleTemplate, runKiln } from './triggers-support.ts';

async function exampleText(name: string): Promise<string> {
  return JSON.stringify(await exampleTemplate(name));
}

let home: string;
let template: string;
let ports: string[];

/** A port free right now (the ARM port must be known before the bake: the template downloads a file from it). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'kiln-cli-bake-'));
  const armPort = await freePort();
  ports = ['--port', '0', '--arm-port', String(armPort), '--key-vault-port', '0', '--blob-port', '0'];
  // examples/ubuntu-web.json as it is, but for the emulator's port (8443 in the example, a free one here).
  const text = (await exampleText('ubuntu-web')).replaceAll('https://127.0.0.1:8443/', `https://127.0.0.1:${armPort}/`);
  template = join(home, 'ubuntu-web.json');
  await writeFile(template, text);
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});


describe('kiln bake with no endpoint (the local default in-process)', () => {
  it('--json: bakes end to end and prints the final run record; exit 0', async () => {
    const { code, stdout, stderr } = await runKiln(['bake', template, '--json', '--home', home, '--profile', 'zero', ...ports]);
    const record = JSON.parse(stdout) as RunRecord;
    expect(record.status, stderr.slice(-3000)).toBe('Succeeded');
    expect(code).toBe(0);
    expect(record.outputs.version).toMatch(/^1\.0\.\d+$/);
    expect(record.outputs.scaleSets).toEqual([expect.objectContaining({ status: 'Succeeded' })]);
  }, 120_000);

  it('plain: progress lines, then the image version and the rollout result', async () => {
    const { code, stdout, stderr } = await runKiln(['bake', template, '--home', home, '--profile', 'zero', ...ports]);
    expect(code, stderr.slice(-3000)).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^bake ubuntu-web-\S+ started/);
    expect(lines).toContain('step customize: Succeeded');
    expect(lines.some((l) => /^image version 1\.0\.\d+ \(/.test(l))).toBe(true);
    expect(lines.at(-1)).toBe('rollout web-vmss: Succeeded (3/3 instances updated)');
  }, 120_000);
});
