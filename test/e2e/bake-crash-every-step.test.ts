/**
 * The whole local default (`kiln up`: Azurite, the Azure emulator and the Functions host in one process) killed with
 * SIGKILL once during each step of one bake, and started again on the same KILN_HOME each time: guests run on while
 * it is down (a Run Command reports its real result after the restart, a detached deprovision stops its VM), and the
 * bake ends Succeeded with exactly one new image version and no staging group.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KilnClient } from '../../src/api/client.ts';
import type { ReadyLine, LocalDefault } from '../../local/default.ts';
import { BAKE_STEPS } from '../../src/runs/progress.ts';
import type { RunRecord } from '../../src/runs/record.ts';
import { imageVersions, properties, resourceGroupExists, stagingGroupName } from './bake-support.ts';
import { describeRun, exampleTemplate, poll, repo, waitForEnd } from './triggers-support.ts';

/** The steps a kill must land in (approve is skipped by this template). */
const STEPS: string[] = BAKE_STEPS.filter((step) => step !== 'approve');

let home: string;
let up: ChildProcess | undefined;

/** Starts `kiln up` on `home` (free ports the first time, then the ones it saved) and resolves with its ready line. */
async function startUp(first: boolean): Promise<ReadyLine> {
  const log = await open(join(home, 'up.log'), 'a');
  const ports = first ? ['--port', '0', '--arm-port', '0', '--key-vault-port', '0', '--blob-port', '0'] : [];
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', 'cli/main.ts', 'up', '--home', home, '--profile', 'fast', ...ports], {
    cwd: repo,
    env: { ...process.env, KILN_ENDPOINT: '', KILN_API_KEY: '' },
    stdio: ['ignore', 'pipe', log.fd],
  });
  await log.close();
  up = child;
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split('\n').find((candidate) => candidate.startsWith('{"ready":true'));
      if (line) resolve(JSON.parse(line) as ReadyLine);
    });
    child.once('exit', (code, signal) => reject(new Error(`kiln up exited before it was ready (${code ?? signal}); see ${home}/up.log`)));
  });
}

async function killUp(): Promise<void> {
  const child = up;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGKILL');
  await exited;
}

afterAll(async () => {
  if (up && up.exitCode === null && up.signalCode === null) {
    const exited = new Promise((done) => up!.once('exit', done));
    up.kill('SIGTERM');
    await exited;
  }
  if (home) await rm(home, { recursive: true, force: true });
});

describe('the local default killed during every step of a bake', () => {
  it('ends Succeeded with exactly one new version and no staging group', async () => {
    home = await mkdtemp(join(tmpdir(), 'kiln-crash-'));
    let ready = await startUp(true);
    const client = new KilnClient(ready.functionsUrl, { key: ready.apiKey });
    const template = await exampleTemplate('ubuntu-web', { armEndpoint: ready.armEndpoint } as LocalDefault);
    // A customizer that takes a moment, so kills land while a Run Command runs in its guest.
    properties(template).customize = [{ type: 'Shell', name: 'slow', inline: ['sleep 3', 'echo slept'] }, ...(properties(template).customize as unknown[])];
    const azure = {
      armEndpoint: ready.armEndpoint,
      subscriptionId: ready.subscriptionId,
      emulator: { caPem: await readFile(ready.caCertPath, 'utf8'), token: (await readFile(join(home, 'azure', 'token'), 'utf8')).trim() },
    } as unknown as LocalDefault;
    const before = await imageVersions(azure, 'ubuntu-web');
    const { id } = await client.startBake(template);

    const killedDuring: string[] = [];
    let last: RunRecord | undefined;
    for (;;) {
      // The step running now, once it is one not killed in yet; or the run's end.
      const step = await poll(() => `a step to run: ${last ? describeRun(last) : id}`, 60_000, async () => {
        last = await client.getRun<RunRecord>(id).catch(() => undefined);
        if (!last) return undefined;
        if (['Succeeded', 'Failed', 'Canceled'].includes(last.status)) return 'end';
        const running = last.steps.find((s) => s.status === 'Running')?.name;
        return running && STEPS.includes(running) && !killedDuring.includes(running) ? running : undefined;
      }, 25);
      if (step === 'end') break;
      await killUp();
      killedDuring.push(step);
      ready = await startUp(false);
    }

    const run = await waitForEnd(client, id, 120_000);
    expect(run.status, describeRun(run)).toBe('Succeeded');
    expect(await imageVersions(azure, 'ubuntu-web')).toEqual([...before, run.outputs.version].sort());
    expect(await resourceGroupExists(azure, stagingGroupName(run.staging!.resourceGroupId))).toBe(false);
    // Steps of a few milliseconds (lock, cleanup) are not always seen running; those whose crash broke bakes before
    // (customize, generalize) and those with Azure operations in flight always are.
    expect(killedDuring).toEqual(expect.arrayContaining(['stage', 'customize', 'validate', 'generalize', 'capture', 'replicate', 'rollout']));
    console.log(`kill -9 during: ${killedDuring.join(', ')} (${killedDuring.length} of ${STEPS.length} steps)`);
  }, 600_000);
});
