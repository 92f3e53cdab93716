import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunView } from '../../cli/progress.ts';
import type { RunRecord } from '../../src/runs/record.ts';
import { describeRun, exampleTemplate, startTestDefault, waitForEnd, waitForRun, type TestDefault } from './triggers-support.ts';

let env: TestDefault;

beforeAll(async () => {
  env = await startTestDefault();
});

afterAll(async () => {
  await env?.close();
});

describe('HTTP trigger', () => {
  it('POST /builds answers 202 + Location, and the bake runs to a rolled-out image', async () => {
    const template = await exampleTemplate('ubuntu-web', env.local);
    const response = await fetch(`${env.local.functionsUrl}/api/builds`, {
      method: 'POST',
      headers: { 'x-functions-key': env.local.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify(template),
    });
    expect(response.status).toBe(202);
    const location = response.headers.get('location')!;
    const { id } = (await response.json()) as { id: string };
    expect(location).toBe(`${env.local.functionsUrl}/api/builds/${id}`);

    const pending = await fetch(location, { headers: { 'x-functions-key': env.local.apiKey } });
    expect(pending.status).toBe(200);
    expect(await pending.json()).toMatchObject({ id, templateName: 'ubuntu-web', trigger: 'http' });

    const run = await waitForEnd(env.client, id);
    expect(run.status, describeRun(run)).toBe('Succeeded');
    // A cancel of a run that ended otherwise is a conflict.
    await expect(env.client.cancel(id)).rejects.toMatchObject({ statusCode: 409 });
    expect(run.outputs.version).toMatch(/^1\.0\.\d+$/);
    expect(Object.keys(run.outputs.regions).sort()).toEqual(['eastus', 'westeurope']);
    expect(run.outputs.scaleSets).toEqual([expect.objectContaining({ status: 'Succeeded', total: 3, updated: 3 })]);

    const logs = await env.client.getLogs(id);
    expect(logs.logs.length).toBeGreaterThan(0);
  });

  it('a stored template starts by name; cancel, retry and approve act on runs', async () => {
    const template = await exampleTemplate('ubuntu-web', env.local);
    const properties = template.properties as Record<string, unknown>;
    // The approval gate holds the bake still, so cancel and approve find it running.
    properties.approval = { required: true, timeout: 'PT1H' };
    delete properties.schedule;
    await env.client.putTemplate('gated-web', template);
    // Storing it is a blob drop: that bake is canceled too once it waits at the gate.
    const dropped = await waitForRun(env.client, (r) => r.templateName === 'gated-web' && r.trigger === 'blob');
    await waitForGate(dropped.id);
    await env.client.cancel(dropped.id);
    expect((await waitForEnd(env.client, dropped.id)).status).toBe('Canceled');

    const started = await env.client.startStoredTemplate('gated-web');
    expect(started.id).toMatch(/^gated-web-/);
    await waitForGate(started.id);
    // Cancel twice at once: both are accepted, the run is canceled once.
    await Promise.all([env.client.cancel(started.id), env.client.cancel(started.id)]);
    const canceled = await waitForEnd(env.client, started.id);
    expect(canceled.status, describeRun(canceled)).toBe('Canceled');
    // A late cancel of a canceled run is harmless; of a run that ended otherwise, a conflict.
    await expect(env.client.cancel(started.id)).resolves.toBeUndefined();

    // Two concurrent retries and a late one start one run, which every call names.
    const [retried, twin] = await Promise.all([env.client.retry(started.id), env.client.retry(started.id)]);
    expect(twin.id).toBe(retried.id);
    expect((await env.client.retry(started.id)).id).toBe(retried.id);
    await waitForGate(retried.id);
    await Promise.all([env.client.approve(retried.id, 'e2e'), env.client.approve(retried.id, 'again')]);
    const run = await waitForEnd(env.client, retried.id);
    const retries = (await env.client.listRuns<RunRecord>({ limit: 100 })).items.filter((r) => r.resumeFrom === started.id);
    expect(retries.map((r) => r.id)).toEqual([retried.id]);
    expect(run).toMatchObject({ trigger: 'retry', resumeFrom: started.id, templateName: 'gated-web' });
    expect(run.status, describeRun(run)).toBe('Succeeded');
    await expect(env.client.retry(retried.id)).rejects.toMatchObject({ statusCode: 409 });
  });
});

/** Waits until the run waits at its approval gate. */
async function waitForGate(id: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const run = await env.client.getRun<RunView>(id);
    if (run.progress?.step === 'approve' && run.progress.steps.some((s) => s.name === 'approve' && s.status === 'Running')) return;
    if (['Succeeded', 'Failed', 'Canceled'].includes(run.status)) throw new Error(`run ${id} ended (${describeRun(run)}) before its approval gate`);
    if (Date.now() > deadline) throw new Error(`run ${id} never reached its approval gate: ${describeRun(run)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
