/**
 * Full bakes on the local default (emulator profile `zero`): the success path with the customizers' real effects
 * in the rolled-out scale-set instances, and a bake with a Key Vault secret that leaves no trace of its value.
 */

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/runs/record.ts';
import { filesContaining, imageVersions, resourceGroupExists, stagingGroupName } from './bake-support.ts';
import { describeRun, exampleTemplate, startTestDefault, waitForEnd, type TestDefault } from './triggers-support.ts';

let env: TestDefault;

beforeAll(async () => {
  env = await startTestDefault();
});

afterAll(async () => {
  await env?.close();
});

const SECRET_VALUE = 'local-dev-db-password';

describe('bake on the local default', () => {
  it('bakes ubuntu-web to a replicated, promoted version running in every web-vmss instance', async () => {
    const before = await imageVersions(env.local, 'ubuntu-web');
    const { id } = await env.client.startBake(await exampleTemplate('ubuntu-web', env.local));
    const run = await waitForEnd(env.client, id);
    expect(run.status, describeRun(run)).toBe('Succeeded');
    expect(run.steps.map((s) => `${s.name}:${s.status}`)).toEqual([
      'plan:Succeeded', 'lock:Succeeded', 'stage:Succeeded', 'customize:Succeeded', 'validate:Succeeded',
      'generalize:Succeeded', 'capture:Succeeded', 'replicate:Succeeded', 'promote:Succeeded', 'approve:Skipped',
      'rollout:Succeeded', 'cleanup:Succeeded',
    ]);
    expect(run.outputs.regions).toEqual({ eastus: 'Completed', westeurope: 'Completed' });
    expect(await imageVersions(env.local, 'ubuntu-web')).toEqual([...before, run.outputs.version].sort());

    // The scale set now runs the baked image: the Shell and File customizers' files are on every instance's disk.
    const scaleSetId = run.outputs.scaleSets[0]!.id;
    expect(run.outputs.scaleSets[0]).toMatchObject({ status: 'Succeeded', updated: 3, total: 3 });
    for (const instance of ['0', '1', '2']) {
      const disk = `${scaleSetId}/virtualMachines/${instance}`;
      expect(String(await env.local.emulator.readDiskFile(disk, '/etc/kiln-release'))).toMatch(/^KILN_IMAGE=ubuntu-web$/m);
      expect(String(await env.local.emulator.readDiskFile(disk, '/var/www/html/robots.txt'))).toMatch(/^User-agent: \*$/m);
    }

    expect(run.staging).toMatchObject({ state: 'Deleted' });
    expect(await resourceGroupExists(env.local, stagingGroupName(run.staging!.resourceGroupId))).toBe(false);
    const logs = await env.client.getLogs(id);
    expect(logs.logs.map((l) => l.step)).toEqual(expect.arrayContaining(['customize', 'validate']));
  });

  it('passes a Key Vault secret to the script and leaves its value nowhere in state, blobs, logs or records', async () => {
    const { id } = await env.client.startBake(await exampleTemplate('app-with-secret', env.local));
    const run = await waitForEnd(env.client, id);
    expect(run.status, describeRun(run)).toBe('Succeeded');

    // The script received the value (the baked image has it, as the template intends) …
    const instance = `${run.outputs.scaleSets[0]!.id}/virtualMachines/0`;
    expect(String(await env.local.emulator.readDiskFile(instance, '/etc/kiln-app/app.env'))).toContain(`DB_PASSWORD=${SECRET_VALUE}`);

    // … and nothing else did: the durable store (SQLite + WAL), Azurite's blobs, the host's files, records and logs.
    const home = env.local.kilnHome;
    expect(await filesContaining(home, SECRET_VALUE, [join(home, 'azure')])).toEqual([]);
    const records = await env.client.listRuns<RunRecord>({ limit: 100 });
    expect(JSON.stringify(records)).not.toContain(SECRET_VALUE);
    for (const record of records.items) {
      expect(JSON.stringify(await env.client.getLogs(record.id))).not.toContain(SECRET_VALUE);
    }
    expect(JSON.stringify(await env.client.getRun(id))).not.toContain(SECRET_VALUE);
  });
});
