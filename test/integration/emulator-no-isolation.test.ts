// Where the emulator cannot isolate guests (isolation 'off'), Linux scripts are recorded, not run; a script that starts
// a detached deprovision still ends as on Azure: the agent's deprovision is applied to the disk from the host and
// the VM stops, so the generalize sequence (stopped → deallocate → generalize → capture) completes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_POLL, UBUNTU, startTestEmulator, vmModel, type TestEmulator } from './emulator-helpers.ts';

const RG = 'rg-plain';
/** Not the default admin, so a VM made from the capture shows whether the build VM's user went away. */
const BUILDER = 'kilnbuilder';

let t: TestEmulator;

const managed = (script: string) => ({ location: 'eastus', source: { script }, asyncExecution: false, treatFailureAsDeploymentFailure: false, timeoutInSeconds: 60 });

async function text(vm: string, path: string): Promise<string | undefined> {
  return (await t.emulator.readDiskFile(t.id(`${RG}/providers/Microsoft.Compute/virtualMachines/${vm}`), path))?.toString('utf8');
}

async function powerState(vm: string): Promise<string | undefined> {
  return (await t.compute.virtualMachines.instanceView(RG, vm)).statuses?.find((s) => s.code?.startsWith('PowerState/'))?.code;
}

async function buildVm(name: string): Promise<void> {
  const model = vmModel({ image: UBUNTU, name });
  await t.compute.virtualMachines.createOrUpdate(RG, name, { ...model, osProfile: { ...model.osProfile, adminUsername: BUILDER } }, FAST_POLL);
}

beforeAll(async () => {
  t = await startTestEmulator({ isolation: 'off' });
  await t.resources.resourceGroups.createOrUpdate(RG, { location: 'eastus' });
});

afterAll(async () => {
  await t?.close();
});

describe('without isolation', () => {
  it('applies a detached deprovision from the host, stops the VM, and the generalize sequence completes', async () => {
    await buildVm('build');
    const buildMachineId = await text('build', '/etc/machine-id');
    expect(buildMachineId).toMatch(/^[0-9a-f]{32}\n$/);
    expect(await text('build', '/etc/passwd')).toContain(`${BUILDER}:`);
    expect(await text('build', '/etc/ssh/ssh_host_ed25519_key')).toBeDefined();

    // Kiln's generalize script shape: the deprovision detached, the run returns at once.
    const script = [
      'touch /kiln-should-not-exist',
      `nohup setsid /bin/bash -c 'sleep 1; waagent -force -deprovision+user && shutdown -h now' >/dev/null 2>&1 &`,
      "echo 'deprovision started'",
    ].join('\n');
    await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'build', 'deprovision', managed(script), FAST_POLL);
    const view = (await t.compute.virtualMachineRunCommands.getByVirtualMachine(RG, 'build', 'deprovision', { expand: 'instanceView' })).instanceView!;
    expect(view.executionState).toBe('Succeeded');
    expect(view.executionMessage).toMatch(/^Simulated: the script was not run/);
    expect(await text('build', '/kiln-should-not-exist')).toBeUndefined();
    expect(await powerState('build')).toBe('PowerState/stopped');

    // The identity waagent removes is gone from the disk.
    expect(await text('build', '/etc/machine-id')).toBe('');
    expect(await text('build', '/etc/hostname')).toBe('localhost.localdomain\n');
    expect(await text('build', '/etc/ssh/ssh_host_ed25519_key')).toBeUndefined();
    expect(await text('build', '/etc/ssh/ssh_host_ed25519_key.pub')).toBeUndefined();
    expect(await text('build', '/var/lib/waagent/ovf-env.xml')).toBeUndefined();
    expect(await text('build', '/etc/sudoers.d/waagent')).toBeUndefined();
    expect(await text('build', '/etc/passwd')).not.toContain(`${BUILDER}:`);
    expect(await text('build', '/etc/group')).not.toMatch(new RegExp(`^${BUILDER}:`, 'm'));

    await t.compute.virtualMachines.deallocate(RG, 'build', FAST_POLL);
    await t.compute.virtualMachines.generalize(RG, 'build');
    expect((await t.compute.virtualMachines.instanceView(RG, 'build')).statuses?.map((s) => s.code)).toContain('OSState/generalized');
    const image = await t.compute.images.createOrUpdate(RG, 'captured', {
      location: 'eastus',
      sourceVirtualMachine: { id: t.id(`${RG}/providers/Microsoft.Compute/virtualMachines/build`) },
      hyperVGeneration: 'V2',
    }, FAST_POLL);

    // A VM from the capture gets an identity of its own, and none of the build VM's.
    await t.compute.virtualMachines.createOrUpdate(RG, 'from-image', vmModel({ image: { id: image.id! }, name: 'from-image' }), FAST_POLL);
    const machineId = await text('from-image', '/etc/machine-id');
    expect(machineId).toMatch(/^[0-9a-f]{32}\n$/);
    expect(machineId).not.toBe(buildMachineId);
    expect(await text('from-image', '/etc/passwd')).not.toContain(`${BUILDER}:`);
    expect(await text('from-image', `/home/${BUILDER}`)).toBeUndefined();
  });

  it('stops the VM for a detached shutdown without touching its identity', async () => {
    await buildVm('halts');
    const machineId = await text('halts', '/etc/machine-id');
    await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'halts', 'shutdown', managed('(sleep 1; shutdown -h now) &'), FAST_POLL);
    expect(await powerState('halts')).toBe('PowerState/stopped');
    expect(await text('halts', '/etc/machine-id')).toBe(machineId);
  });

  it('records a foreground script that mentions neither as before: the VM keeps running', async () => {
    await buildVm('plain');
    await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'plain', 'hello', managed('echo hello'), FAST_POLL);
    expect(await powerState('plain')).toBe('PowerState/running');
  });
});
