import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { CronExpressionParser } from 'cron-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bumpPatch } from '../../src/pipeline/schedule.ts';
import { describeRun, exampleTemplate, startTestDefault, waitForEnd, waitForRun, type TestDefault } from './triggers-support.ts';

let env: TestDefault;
let containers: { templates: ContainerClient; schedules: ContainerClient };

beforeAll(async () => {
  // The patch step runs apt-get upgrade: the emulator records it rather than upgrading a guest over the network.
  env = await startTestDefault({ isolation: 'off' });
  const blobs = BlobServiceClient.fromConnectionString(env.local.blobConnectionString);
  containers = { templates: blobs.getContainerClient('templates'), schedules: blobs.getContainerClient('schedules') };
});

afterAll(async () => {
  await env?.close();
});

const PATCH_TICK_MS = 5 * 60_000;

/** The schedule state the patch timer keeps for a template, once a tick has handled it. */
async function patchCheckedAt(name: string): Promise<string | undefined> {
  try {
    const state = JSON.parse((await containers.schedules.getBlobClient(`${name}.json`).downloadToBuffer()).toString('utf8')) as { patchCheckedAt?: string };
    return state.patchCheckedAt;
  } catch {
    return undefined;
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// The patch step really runs `apt-get update && apt-get -y upgrade` in the emulator's guest sandbox (network, ~1-2 min).
describe('timer trigger: patch rebuild', { timeout: 240_000 }, () => {
  it('at the template schedule, rebuilds from the latest gallery version with the OS patch step and the next patch version', async () => {
    const clock = env.local.host!.clock;
    const template = await exampleTemplate('ubuntu-web', env.local);
    (template.properties as Record<string, unknown>).schedule = { patch: '0 0 3 * * 0' };
    const body = JSON.stringify(template);
    await containers.templates.getBlockBlobClient('patched-web.json').upload(body, body.length);

    const first = await waitForEnd(env.client, (await waitForRun(env.client, (r) => r.templateName === 'patched-web')).id);
    expect(first.status, describeRun(first)).toBe('Succeeded');
    const baked = first.outputs.version!;

    // Skip the host clock past next Sunday 03:00 UTC. The patch timer's first tick after the skip stands for the
    // occurrence it missed; the one after it stands for the skipped-to time and finds the schedule due.
    const sunday = CronExpressionParser.parse('0 0 3 * * 0', { tz: 'UTC', currentDate: new Date(clock.now()) }).next().getTime();
    const before = await patchCheckedAt('patched-web');
    await clock.advance(sunday - clock.now() + 60_000);
    await until('the catch-up tick', async () => (await patchCheckedAt('patched-web')) !== before);
    await clock.advance(PATCH_TICK_MS);

    const patch = await waitForRun(env.client, (r) => r.templateName === 'patched-web' && r.trigger === 'timer');
    const run = await waitForEnd(env.client, patch.id);
    expect(run.status, describeRun(run)).toBe('Succeeded');
    expect(run.spec!.source).toMatchObject({ type: 'SharedImageVersion', version: baked });
    expect(run.spec!.customizers.map((c) => c.name)).toEqual(['patch (apt)']);
    expect(run.outputs.version).toBe(bumpPatch(baked));
    expect(run.outputs.scaleSets).toEqual([expect.objectContaining({ status: 'Succeeded' })]);

    // Until the next Sunday nothing more is due.
    await clock.advance(PATCH_TICK_MS);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const timerRuns = (await env.client.listRuns<{ templateName: string; trigger: string }>({ limit: 100 })).items
      .filter((r) => r.templateName === 'patched-web' && r.trigger === 'timer');
    expect(timerRuns).toHaveLength(1);
  });
});
