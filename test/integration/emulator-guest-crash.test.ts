// Guests are not the emulator's children: dropped as kill -9 would drop it, the emulator comes back to find a Run
// Command's real result (the script ran on meanwhile) and a detached deprovision's power-off (its VM stopped).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_POLL, UBUNTU, startTestEmulator, vmModel, type TestEmulator } from './emulator-helpers.ts';

let t: TestEmulator;
let isolated = false;
const RG = 'rg-crash';

const asyncRun = (script: string) => ({
  location: 'eastus', source: { script }, asyncExecution: true, treatFailureAsDeploymentFailure: false, timeoutInSeconds: 60,
});

async function view(vm: string, name: string) {
  return (await t.compute.virtualMachineRunCommands.getByVirtualMachine(RG, vm, name, { expand: 'instanceView' })).instanceView!;
}

async function until<T>(what: string, look: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await look();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  t = await startTestEmulator();
  await t.resources.resourceGroups.createOrUpdate(RG, { location: 'eastus' });
  await t.compute.virtualMachines.createOrUpdate(RG, 'vm1', vmModel({ image: UBUNTU, name: 'vm1' }), FAST_POLL);
  await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'vm1', 'probe', { ...asyncRun('true'), asyncExecution: false }, FAST_POLL);
  isolated = !(await view('vm1', 'probe')).executionMessage?.startsWith('Simulated');
});
afterAll(async () => {
  await t?.close();
});

describe('an emulator killed while its guests work', () => {
  it('reports a running script\'s real exit code and output after it starts again', async (context) => {
    if (!isolated) context.skip('this machine cannot isolate guests');
    await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'vm1', 'slow', asyncRun('sleep 1.5; echo finished; echo late >&2; exit 4'), FAST_POLL);
    expect((await view('vm1', 'slow')).executionState).toBe('Running');
    await t.crash(0);
    // Down or up, the guest carried on; the restarted emulator reads the result the guest kept.
    const ended = await until('the run to end', async () => {
      const current = await view('vm1', 'slow');
      return current.executionState === 'Running' ? undefined : current;
    });
    expect(ended).toMatchObject({ executionState: 'Failed', exitCode: 4, output: 'finished\n', error: 'late\n' });
  });

  it('stops the VM whose detached deprovision finished while the emulator was down', async (context) => {
    if (!isolated) context.skip('this machine cannot isolate guests');
    await t.compute.virtualMachines.createOrUpdate(RG, 'vm2', vmModel({ image: UBUNTU, name: 'vm2' }), FAST_POLL);
    const detached = `nohup setsid /bin/bash -c 'sleep 0.5; waagent -force -deprovision+user && shutdown -h now' >/dev/null 2>&1 &\necho started`;
    await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'vm2', 'deprovision', asyncRun(detached), FAST_POLL);
    await until('the launcher to end', async () => ((await view('vm2', 'deprovision')).executionState === 'Succeeded' ? true : undefined));
    await t.crash(2000);
    const power = await until('the VM to stop', async () => {
      const statuses = (await t.compute.virtualMachines.instanceView(RG, 'vm2')).statuses ?? [];
      const code = statuses.find((s) => s.code?.startsWith('PowerState/'))?.code;
      return code === 'PowerState/running' ? undefined : code;
    });
    expect(power).toBe('PowerState/stopped');
    const vmId = t.id(`${RG}/providers/Microsoft.Compute/virtualMachines/vm2`);
    // The deprovision ran in the guest: the machine identity is gone from the disk.
    expect(String(await t.emulator.readDiskFile(vmId, '/etc/machine-id'))).toBe('');
    expect(await t.emulator.readDiskFile(vmId, '/var/lib/waagent/ovf-env.xml')).toBeUndefined();
  });
});
