/**
 * A Windows bake on the local default (emulator profile `zero`): PowerShell, two WindowsRestarts and WindowsUpdate
 * on a simulated Windows guest, then the detached sysprep, capture and replication, as examples/windows-base.json is.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageVersions, resourceGroupExists, stagingGroupName } from './bake-support.ts';
import { describeRun, exampleTemplate, startTestDefault, waitForEnd, type TestDefault } from './triggers-support.ts';

let env: TestDefault;

beforeAll(async () => {
  env = await startTestDefault();
});

afterAll(async () => {
  await env?.close();
});

describe('Windows bake on the local default', () => {
  it('bakes windows-base through its restarts to a replicated image version', async () => {
    const before = await imageVersions(env.local, 'windows-base');
    const { id } = await env.client.startBake(await exampleTemplate('windows-base', env.local));
    const run = await waitForEnd(env.client, id);
    expect(run.status, describeRun(run)).toBe('Succeeded');
    expect(run.steps.map((s) => `${s.name}:${s.status}`)).toEqual([
      'plan:Succeeded', 'lock:Succeeded', 'stage:Succeeded', 'customize:Succeeded', 'validate:Succeeded',
      'generalize:Succeeded', 'capture:Succeeded', 'replicate:Succeeded', 'promote:Succeeded', 'approve:Skipped',
      'rollout:Skipped', 'cleanup:Succeeded',
    ]);
    expect(run.outputs.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(run.outputs.regions).toEqual({ eastus: 'Completed', westeurope: 'Completed' });
    expect(await imageVersions(env.local, 'windows-base')).toEqual([...before, run.outputs.version].sort());

    // Each restart waited for a newer boot time than the one its restart script printed.
    const logs = JSON.stringify(await env.client.getLogs(id));
    for (const step of ['restart-after-settings', 'restart-after-updates']) {
      const restarted = new RegExp(`customize ${step} restarted \\(boot (\\S+) → (\\S+)\\)`).exec(logs);
      expect(restarted, `${step} restarted`).not.toBeNull();
      expect(Date.parse(restarted![2]!)).toBeGreaterThan(Date.parse(restarted![1]!));
    }
    expect(run.staging).toMatchObject({ state: 'Deleted' });
    expect(await resourceGroupExists(env.local, stagingGroupName(run.staging!.resourceGroupId))).toBe(false);
  });
});
