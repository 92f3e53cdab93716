// A bake's effects, end to end through the real SDK clients against the emulator: a customization script's file
// reaches the scale-set instances made from the captured version, and generalization removed the machine identity.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandbox } from '../../local/azure/sandbox.ts';
import { FAST_POLL, NETWORK_API, SEED, startTestEmulator, type TestEmulator } from './emulator-helpers.ts';

const STAGING = 'kiln-staging-effects';
const BUILD_VM = 'build-vm';
/** Not the scale set's admin, so the instances show whether the build VM's user went away. */
const BUILDER = 'kilnbuilder';

let test: TestEmulator;

async function text(resourceId: string, path: string): Promise<string | undefined> {
  return (await test.emulator.readDiskFile(resourceId, path))?.toString('utf8');
}

async function runScript(name: string, script: string): Promise<{ executionState?: string; exitCode?: number; output?: string; error?: string }> {
  await test.compute.virtualMachineRunCommands.createOrUpdate(
    STAGING,
    BUILD_VM,
    name,
    { location: 'eastus', source: { script }, timeoutInSeconds: 120, asyncExecution: false, treatFailureAsDeploymentFailure: false },
    FAST_POLL,
  );
  const run = await test.compute.virtualMachineRunCommands.getByVirtualMachine(STAGING, BUILD_VM, name, { expand: 'instanceView' });
  return run.instanceView ?? {};
}

async function powerState(): Promise<string | undefined> {
  const view = await test.compute.virtualMachines.instanceView(STAGING, BUILD_VM);
  return view.statuses?.find((status) => status.code?.startsWith('PowerState/'))?.code;
}

beforeAll(async () => {
  test = await startTestEmulator({ seedFile: SEED });
});

afterAll(async () => {
  await test?.close();
});

describe('bake effects through the emulator', () => {
  it('carries a customized file into scale-set instances and leaves no build identity behind', async (context) => {
    // Only where scripts really run can their effects be carried; elsewhere the emulator says it did not run them.
    const probe = await createSandbox({ home: join(test.home, 'probe'), caPem: test.emulator.caPem });
    await probe.close();
    if (!probe.isolation.isolated) context.skip(`no isolation here: ${probe.isolation.reason}`);

    const { compute, resources, id } = test;
    const versionV1 = id('kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images/ubuntu-web/versions/1.0.0');
    await resources.resourceGroups.createOrUpdate(STAGING, { location: 'eastus' });
    const vnetId = id(`${STAGING}/providers/Microsoft.Network/virtualNetworks/staging-vnet`);
    await resources.resources.createOrUpdateById(
      vnetId.slice(1),
      NETWORK_API,
      {
        location: 'eastus',
        properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] }, subnets: [{ name: 'default', properties: { addressPrefix: '10.0.1.0/24' } }] },
      },
      FAST_POLL,
    );

    await compute.virtualMachines.createOrUpdate(STAGING, BUILD_VM, {
      location: 'eastus',
      hardwareProfile: { vmSize: 'Standard_D2s_v5' },
      storageProfile: { imageReference: { id: versionV1 }, osDisk: { createOption: 'FromImage' } },
      osProfile: { computerName: BUILD_VM, adminUsername: BUILDER, linuxConfiguration: { disablePasswordAuthentication: true, ssh: { publicKeys: [{ path: `/home/${BUILDER}/.ssh/authorized_keys`, keyData: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKiln test' }] } } },
      networkProfile: {
        networkApiVersion: '2022-11-01',
        networkInterfaceConfigurations: [
          { name: 'nic', primary: true, ipConfigurations: [{ name: 'ip', primary: true, subnet: { id: `${vnetId}/subnets/default` } }] },
        ],
      },
    }, FAST_POLL);
    const vmId = id(`${STAGING}/providers/Microsoft.Compute/virtualMachines/${BUILD_VM}`);
    const buildMachineId = await text(vmId, '/etc/machine-id');
    expect(buildMachineId).toMatch(/^[0-9a-f]{32}\n$/);
    expect(await text(vmId, '/etc/passwd')).toContain(`${BUILDER}:`);

    const customize = await runScript(
      'customize',
      `mkdir -p /opt/web && echo "baked by kiln" > /opt/web/version.txt && echo notes > /home/${BUILDER}/notes.txt`,
    );
    expect(customize).toMatchObject({ executionState: 'Succeeded', exitCode: 0 });
    expect(await text(vmId, `/home/${BUILDER}/notes.txt`)).toBe('notes\n');
    const buildHostKey = await text(vmId, '/etc/ssh/ssh_host_ed25519_key.pub');
    expect(buildHostKey).toMatch(/^ssh-ed25519 /);

    const deprovision = await runScript(
      'deprovision',
      'nohup bash -c "sleep 1; waagent -force -deprovision+user" > /dev/null 2>&1 &\necho deprovision scheduled',
    );
    expect(deprovision).toMatchObject({ executionState: 'Succeeded', exitCode: 0 });
    const deadline = Date.now() + 20_000;
    while ((await powerState()) !== 'PowerState/stopped') {
      if (Date.now() > deadline) throw new Error(`build VM did not stop after deprovision (power state ${await powerState()})`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }

    expect(await text(vmId, '/etc/machine-id')).toBe('');
    expect(await text(vmId, '/etc/ssh/ssh_host_ed25519_key.pub')).toBeUndefined();
    await compute.virtualMachines.deallocate(STAGING, BUILD_VM, FAST_POLL);
    await compute.virtualMachines.generalize(STAGING, BUILD_VM);

    const versionV2 = id('kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images/ubuntu-web/versions/1.1.0');
    await compute.galleryImageVersions.createOrUpdate('kiln-images', 'kilnGallery', 'ubuntu-web', '1.1.0', {
      location: 'eastus',
      storageProfile: { source: { virtualMachineId: vmId } },
      publishingProfile: { targetRegions: [{ name: 'eastus', regionalReplicaCount: 1 }] },
    }, FAST_POLL);

    await compute.virtualMachineScaleSets.update('web-prod', 'web-vmss', {
      virtualMachineProfile: { storageProfile: { imageReference: { id: versionV2 } } },
    }, FAST_POLL);
    const instanceIds: string[] = [];
    for await (const instance of compute.virtualMachineScaleSetVMs.list('web-prod', 'web-vmss')) instanceIds.push(instance.instanceId!);
    expect(instanceIds.length).toBe(3);
    await compute.virtualMachineScaleSets.updateInstances('web-prod', 'web-vmss', { instanceIds }, FAST_POLL);

    const instances = [];
    for await (const instance of compute.virtualMachineScaleSetVMs.list('web-prod', 'web-vmss')) instances.push(instance);
    expect(instances.every((instance) => instance.latestModelApplied)).toBe(true);
    const instanceId = instances[0]!.id!;
    expect(await text(instanceId, '/opt/web/version.txt')).toBe('baked by kiln\n');

    // The build VM's identity is gone: its admin user, machine id and host keys are not in the instance.
    expect(await text(instanceId, '/etc/passwd')).not.toContain(`${BUILDER}:`);
    expect(await text(instanceId, `/home/${BUILDER}/notes.txt`)).toBeUndefined();
    const instanceMachineId = await text(instanceId, '/etc/machine-id');
    expect(instanceMachineId).toMatch(/^[0-9a-f]{32}\n$/);
    expect(instanceMachineId).not.toBe(buildMachineId);
    const instanceHostKey = await text(instanceId, '/etc/ssh/ssh_host_ed25519_key.pub');
    expect(instanceHostKey).toMatch(/^ssh-ed25519 /);
    expect(instanceHostKey).not.toBe(buildHostKey);
  }, 180_000); // real guests on a loaded 2-core machine (it timed out at 60 s with a second suite running)
});
