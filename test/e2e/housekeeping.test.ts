/**
 * Housekeeping on the local default: a bake terminated through the durable API (with the admin key) is closed by the
 * janitor within its 5-minute tick — record Failed/Terminated, staging group deleted, image lock free for the next
 * bake — and finished instances are purged from the durable store once the retention has passed, records kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAzureClients } from '../../src/azure/clients.ts';
import { listResourceGroupsByTag, TAG_MANAGED } from '../../src/azure/resourceGroups.ts';
import { loadConfig } from '../../src/config.ts';
import type { RunRecord } from '../../src/runs/record.ts';
import { exampleTemplate, poll, startTestDefault, waitForEnd, waitForStepRunning, type TestDefault } from './triggers-support.ts';

let env: TestDefault;

beforeAll(async () => {
  env = await startTestDefault();
});

afterAll(async () => {
  await env?.close();
});

const MINUTE = 60_000;

/** Names of the Kiln-managed staging groups in the emulator. */
async function stagingGroups(): Promise<string[]> {
  const clients = createAzureClients(loadConfig(env.local.settings));
  return (await listResourceGroupsByTag(clients, TAG_MANAGED, 'true')).map((g) => g.name);
}

/** A management webhook call with the admin key. */
function durable(path: string, method = 'GET'): Promise<Response> {
  return fetch(`${env.local.functionsUrl}/runtime/webhooks/durabletask/${path}`, { method, headers: { 'x-functions-key': env.local.adminKey } });
}

describe('housekeeping', () => {
  it('closes a terminated bake within one janitor tick, then purges finished instances after the retention', async () => {
    const template = await exampleTemplate('ubuntu-web', env.local);
    const properties = template.properties as Record<string, unknown>;
    properties.approval = { required: true, timeout: 'PT2H' };
    delete properties.schedule;
    const clock = env.local.host!.clock;

    const first = await env.client.startBake(template);
    // Mid-customize the run holds the image lock and its staging group with the build VM.
    await waitForStepRunning(env.client, first.id, 'customize', 60_000);
    const staging = await stagingGroups();
    expect(staging).toHaveLength(1);
    expect((await durable(`instances/${first.id}/terminate?reason=forced`, 'POST')).status).toBe(202);
    await poll('the instance to be terminated', 10_000, async () =>
      ((await (await durable(`instances/${first.id}`)).json()) as { runtimeStatus: string }).runtimeStatus === 'Terminated' || undefined);
    expect((await env.client.getRun<RunRecord>(first.id)).status).toBe('Running');

    await clock.advance(5 * MINUTE);
    const closed = await waitForEnd(env.client, first.id, 30_000);
    expect(closed).toMatchObject({ status: 'Failed', error: { code: 'Terminated', step: 'customize' }, staging: { state: 'Present', reason: 'deletion started by the janitor' } });
    expect(closed.error?.message).toContain(`started deleting ${staging[0]}`);
    await poll('the staging group to be gone', 30_000, async () => ((await stagingGroups()).length === 0) || undefined);

    // The image lock is free: the next bake of the same image reaches its gate instead of waiting for the lease.
    const second = await env.client.startBake(template);
    await waitForStepRunning(env.client, second.id, 'approve', 60_000);
    await env.client.cancel(second.id);
    expect((await waitForEnd(env.client, second.id)).status).toBe('Canceled');

    expect((await durable(`instances/${first.id}`)).status).toBe(200);
    // A timer tick after a skip reports the occurrence it missed; the tick after it stands for the skipped-to time.
    await clock.advance(169 * 60 * MINUTE);
    await clock.advance(5 * MINUTE);
    await poll('the finished instances to be purged', 30_000, async () =>
      ((await durable(`instances/${first.id}`)).status === 404 && (await durable(`instances/${second.id}`)).status === 404) || undefined);
    // The records stay: the API still answers for both runs.
    expect((await env.client.getRun<RunRecord>(first.id)).status).toBe('Failed');
    expect((await env.client.getRun<RunRecord>(second.id)).status).toBe('Canceled');
  }, 180_000);
});
