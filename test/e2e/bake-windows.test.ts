/**
 * A Windows bake on the local default (emulator profile `zero`): PowerShell, two WindowsRestarts and WindowsUpdate
 * on the emulator's stand-in Windows guest (scripted with pending updates), then the detached sysprep, capture and
 * replication, as examples/windows-base.json is. No PowerShell runs here, so every such step must say Simulated.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { imageVersions, resourceGroupExists, stagingGroupName } from './bake-support.ts';
import { describeRun, exampleTemplate, startTestDefault, waitForEnd, type TestDefault } from './triggers-support.ts';

let env: TestDefault;

beforeAll(async () => {
  env = await startTestDefault();
});

afterAll(async () => {
  await env?.close();
});

beforeEach(() => env.local.emulator.windowsGuests.set({}));

describe('Windows bake on the local default', () => {
  it('bakes windows-base through its restarts to a replicated image version', async () => {
    const before = await imageVersions(env.local, 'windows-base');
    // Three updates pending: pass 1 installs them (updateLimit 40) and restarts, pass 2 finds none left.
    env.local.emulator.windowsGuests.set({ pendingUpdates: 3 });
    const { id } = await env.client.startBake(await exampleTemplate('windows-base', env.local));
    const run = await waitForEnd(env.client, id);
    expect(run.status, describeRun(run)).toBe('Succeeded');
    // No PowerShell ran: the steps made of it are Simulated, never Succeeded, and each operation is listed.
    expect(run.steps.map((s) => `${s.name}:${s.status}`)).toEqual([
      'plan:Succeeded', 'lock:Succeeded', 'stage:Succeeded', 'customize:Simulated', 'validate:Simulated',
      'generalize:Simulated', 'capture:Succeeded', 'replicate:Succeeded', 'promote:Succeeded', 'approve:Skipped',
      'rollout:Skipped', 'cleanup:Succeeded',
    ]);
    expect(run.outputs.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(run.outputs.regions).toEqual({ eastus: 'Completed', westeurope: 'Completed' });
    expect(await imageVersions(env.local, 'windows-base')).toEqual([...before, run.outputs.version].sort());

    expect(run.simulatedSteps?.map((s) => `${s.step}: ${s.operation}`)).toEqual([
      "customize: customizer 1 'base-settings' (PowerShell)",
      "customize: customizer 2 'restart-after-settings' (WindowsRestart)",
      "customize: customizer 3 'updates' (WindowsUpdate)",
      "customize: customizer 4 'restart-after-updates' (WindowsRestart)",
      "validate: validation 1 'release-file-present' (PowerShell)",
      expect.stringMatching(/^generalize: sysprep of \S+ \(detached\), until the VM is stopped$/),
    ]);
    expect(run.simulatedSteps?.every((s) => /Windows guests are not emulated/.test(s.reason))).toBe(true);
    // Each restart waited for a newer boot time than the one its restart script printed.
    const logs = JSON.stringify(await env.client.getLogs(id));
    expect(logs).toContain('validate release-file-present NOT RUN (simulated:');
    // The update loop: a pass, the restart it needed, then a pass with nothing left.
    expect(logs).toMatch(/customize updates: pass 1 installed 3 update\(s\), restarting.*customize updates: pass 2 started.*customize updates: pass 2 found no update left to install; done after 2 pass\(es\)/);
    for (const step of ['restart-after-settings', 'restart-after-updates']) {
      const restarted = new RegExp(`customize ${step} restarted \\(boot (\\S+) → (\\S+)\\)`).exec(logs);
      expect(restarted, `${step} restarted`).not.toBeNull();
      expect(Date.parse(restarted![2]!)).toBeGreaterThan(Date.parse(restarted![1]!));
    }
    expect(run.staging).toMatchObject({ state: 'Deleted' });
    expect(await resourceGroupExists(env.local, stagingGroupName(run.staging!.resourceGroupId))).toBe(false);
  });

  it('fails the validation when the scripted guest gives its check a failing exit code', async () => {
    env.local.emulator.windowsGuests.set({ exitCodes: [{ match: 'Test-Path C:\\kiln\\release.txt', exitCode: 1 }] });
    const { id } = await env.client.startBake(await exampleTemplate('windows-base', env.local));
    const run = await waitForEnd(env.client, id);
    expect(run.status, describeRun(run)).toBe('Failed');
    expect(run.error).toMatchObject({ step: 'validate', code: 'ScriptFailed', exitCode: 1 });
    expect(run.error!.message).toMatch(/validation 1 'release-file-present'.*Simulated: the script was not run/);
    expect(run.steps.find((s) => s.name === 'capture')).toMatchObject({ status: 'Skipped' });
  });
});
