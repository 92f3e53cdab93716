// Scale sets through @azure/arm-compute, on the seeded local environment: the model, instances with
// latestModelApplied and health, manual upgrades, reimage, rolling upgrades (progress, cancel, fault), Flexible
// members, instance protection and the automatic OS upgrade's requirements.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FAST_POLL, SEED, failure, startTestEmulator, type TestEmulator } from './emulator-helpers.ts';

let t: TestEmulator;
const versionId = (image: string, version = '1.0.0') =>
  t.id(`kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images/${image}/versions/${version}`);

async function instances(rg: string, name: string, filter?: string) {
  const list = [];
  for await (const vm of t.compute.virtualMachineScaleSetVMs.list(rg, name, { expand: 'instanceView', filter })) list.push(vm);
  return list;
}
const health = (vm: Awaited<ReturnType<typeof instances>>[number]) => vm.instanceView?.vmHealth?.status?.code;

/** The latest rolling upgrade once it stops moving: its batches are an operation of their own, which may outlast the update's. */
async function rolledOut(rg: string, name: string) {
  return vi.waitFor(
    async () => {
      const latest = await t.compute.virtualMachineScaleSetRollingUpgrades.getLatest(rg, name);
      expect(latest.runningStatus?.code).not.toBe('RollingForward');
      return latest;
    },
    { timeout: 60_000, interval: 100 },
  );
}

/** A Rolling scale set with a health extension, on ubuntu-web 1.0.0. */
async function rollingScaleSet(rg: string, name: string, capacity: number): Promise<void> {
  await t.resources.resourceGroups.createOrUpdate(rg, { location: 'eastus' });
  await t.compute.virtualMachineScaleSets.createOrUpdate(rg, name, {
    location: 'eastus',
    sku: { name: 'Standard_D2s_v5', tier: 'Standard', capacity },
    upgradePolicy: { mode: 'Rolling', rollingUpgradePolicy: { maxBatchInstancePercent: 20, maxUnhealthyUpgradedInstancePercent: 20, pauseTimeBetweenBatches: 'PT0S' } },
    virtualMachineProfile: {
      osProfile: { computerNamePrefix: name, adminUsername: 'azureuser' },
      storageProfile: { imageReference: { id: versionId('ubuntu-web') } },
      extensionProfile: { extensions: [{ name: 'health', publisher: 'Microsoft.ManagedServices', typePropertiesType: 'ApplicationHealthLinux', typeHandlerVersion: '2.0', settings: { protocol: 'http', port: 80, requestPath: '/' } }] },
    },
  }, FAST_POLL);
}

beforeAll(async () => {
  t = await startTestEmulator({ seedFile: SEED });
});
afterAll(async () => {
  await t?.close();
});

describe('seeded scale sets', () => {
  it('web-vmss has 3 healthy instances on ubuntu-web 1.0.0, with the latest model', async () => {
    const vmss = await t.compute.virtualMachineScaleSets.get('web-prod', 'web-vmss');
    expect(vmss.sku?.capacity).toBe(3);
    expect(vmss.virtualMachineProfile?.storageProfile?.imageReference?.id).toBe(versionId('ubuntu-web'));
    const list = await instances('web-prod', 'web-vmss');
    expect(list.map((vm) => vm.instanceId)).toEqual(['0', '1', '2']);
    expect(list.every((vm) => vm.latestModelApplied === true && health(vm) === 'HealthState/healthy')).toBe(true);
    expect(list[0]!.storageProfile?.imageReference?.exactVersion).toBe('1.0.0');
    expect(list[0]!.instanceView?.statuses?.map((s) => s.code)).toContain('PowerState/running');
  });
});

describe('manual upgrades', () => {
  it('a model update leaves instances on the old model until updateInstances moves them', async () => {
    await t.compute.virtualMachineScaleSets.update('app-prod', 'app-vmss', { virtualMachineProfile: { storageProfile: { imageReference: { id: versionId('ubuntu-web') } } } }, FAST_POLL);
    expect((await instances('app-prod', 'app-vmss', 'properties/latestModelApplied eq false')).length).toBe(3);
    await t.compute.virtualMachineScaleSets.updateInstances('app-prod', 'app-vmss', { instanceIds: ['0'] }, FAST_POLL);
    const list = await instances('app-prod', 'app-vmss');
    expect(list.map((vm) => vm.latestModelApplied)).toEqual([true, false, false]);
    expect(list[0]!.storageProfile?.imageReference?.id).toBe(versionId('ubuntu-web'));
    expect((await instances('app-prod', 'app-vmss', 'properties/latestModelApplied eq true')).map((vm) => vm.instanceId)).toEqual(['0']);
    expect(await failure(t.compute.virtualMachineScaleSets.updateInstances('app-prod', 'app-vmss', { instanceIds: ['7'] }, FAST_POLL))).toMatchObject({ code: 'InvalidParameter', statusCode: 400 });
    expect(await failure(instances('app-prod', 'app-vmss', "name eq 'x'"))).toMatchObject({ code: 'InvalidParameter', statusCode: 400 });
  });

  it('an instance that fails its health probe after an upgrade reports Unhealthy; reimage gives it a fresh disk', async () => {
    t.emulator.faults.set([{ match: { operation: 'virtualMachineScaleSets.updateInstances' }, kind: 'unhealthy', count: 1 }]);
    await t.compute.virtualMachineScaleSets.updateInstances('app-prod', 'app-vmss', { instanceIds: ['1'] }, FAST_POLL);
    expect((await instances('app-prod', 'app-vmss')).map(health)).toEqual(['HealthState/healthy', 'HealthState/unhealthy', 'HealthState/healthy']);
    await t.compute.virtualMachineScaleSets.reimage('app-prod', 'app-vmss', { vmScaleSetReimageInput: { instanceIds: ['1'] }, ...FAST_POLL });
    expect((await instances('app-prod', 'app-vmss')).map(health)).toEqual(['HealthState/healthy', 'HealthState/healthy', 'HealthState/healthy']);
    expect(await failure(t.compute.virtualMachineScaleSetRollingUpgrades.startOSUpgrade('app-prod', 'app-vmss', FAST_POLL))).toMatchObject({ code: 'OperationNotAllowed', statusCode: 409 });
  });
});

describe('rolling upgrades', () => {
  it('a model change in Rolling mode rolls every instance forward in batches', async () => {
    await rollingScaleSet('roll-a', 'rolla', 5);
    expect(await failure(t.compute.virtualMachineScaleSetRollingUpgrades.getLatest('roll-a', 'rolla'))).toMatchObject({ statusCode: 404 });
    expect(await failure(t.compute.virtualMachineScaleSetRollingUpgrades.cancel('roll-a', 'rolla', FAST_POLL))).toMatchObject({ code: 'OperationNotAllowed', statusCode: 409 });
    await t.compute.virtualMachineScaleSets.update('roll-a', 'rolla', { virtualMachineProfile: { storageProfile: { imageReference: { id: versionId('ubuntu-app') } } } }, FAST_POLL);
    const latest = await rolledOut('roll-a', 'rolla');
    expect(latest.runningStatus?.code).toBe('Completed');
    expect(latest.progress).toMatchObject({ successfulInstanceCount: 5, failedInstanceCount: 0, pendingInstanceCount: 0 });
    expect((await instances('roll-a', 'rolla')).every((vm) => vm.latestModelApplied && vm.storageProfile?.imageReference?.id === versionId('ubuntu-app'))).toBe(true);
  });

  it('stops Faulted when upgraded instances turn unhealthy: the LRO fails with the policy breach', async () => {
    await rollingScaleSet('roll-b', 'rollb', 5);
    await t.compute.virtualMachineScaleSets.update('roll-b', 'rollb', { upgradePolicy: { mode: 'Rolling' }, virtualMachineProfile: { storageProfile: { imageReference: { id: t.id('kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images/ubuntu-app') } } } }, FAST_POLL);
    await t.compute.virtualMachineScaleSets.update('roll-b', 'rollb', { upgradePolicy: { mode: 'Rolling' }, virtualMachineProfile: { storageProfile: { imageReference: { id: t.id('kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images/ubuntu-web') } } } }, FAST_POLL);
    t.emulator.faults.set([{ match: { operation: 'virtualMachineScaleSetRollingUpgrades.batch' }, kind: 'unhealthy' }]);
    await t.compute.virtualMachineScaleSets.update('roll-b', 'rollb', { virtualMachineProfile: { storageProfile: { imageReference: { id: t.id('kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images/ubuntu-app') } } } }, FAST_POLL);
    const latest = await rolledOut('roll-b', 'rollb');
    expect(latest.runningStatus?.code).toBe('Faulted');
    expect(latest.error?.code).toBe('MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade');
    expect(latest.progress?.failedInstanceCount).toBe(1);
    // startOSUpgrade on a moving image (a definition id) runs the rollout as its LRO, and fails with it.
    const failed = await failure(t.compute.virtualMachineScaleSetRollingUpgrades.startOSUpgrade('roll-b', 'rollb', FAST_POLL));
    expect(failed.message).toContain('The long-running operation has failed. MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade');
    t.emulator.faults.clear();
  });

  it('shows progress over time and can be cancelled', async () => {
    const slow = await startTestEmulator({ seedFile: SEED, profile: 'fast', scale: 0.5 });
    try {
      const rg = 'roll-c';
      await slow.resources.resourceGroups.createOrUpdate(rg, { location: 'eastus' });
      const web = slow.id('kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images/ubuntu-web/versions/1.0.0');
      const app = slow.id('kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images/ubuntu-app/versions/1.0.0');
      await slow.compute.virtualMachineScaleSets.createOrUpdate(rg, 'rollc', {
        location: 'eastus', sku: { name: 'Standard_D2s_v5', capacity: 5 },
        upgradePolicy: { mode: 'Rolling', rollingUpgradePolicy: { maxBatchInstancePercent: 20, pauseTimeBetweenBatches: 'PT0S' } },
        virtualMachineProfile: { osProfile: { computerNamePrefix: 'c', adminUsername: 'azureuser' }, storageProfile: { imageReference: { id: web } }, extensionProfile: { extensions: [{ name: 'h', typePropertiesType: 'ApplicationHealthLinux', publisher: 'Microsoft.ManagedServices', typeHandlerVersion: '2.0' }] } },
      }, FAST_POLL);
      await slow.compute.virtualMachineScaleSets.update(rg, 'rollc', { virtualMachineProfile: { storageProfile: { imageReference: { id: app } } } }, FAST_POLL);
      const during = await slow.compute.virtualMachineScaleSetRollingUpgrades.getLatest(rg, 'rollc');
      expect(during.runningStatus?.code).toBe('RollingForward');
      expect((during.progress?.pendingInstanceCount ?? 0) + (during.progress?.inProgressInstanceCount ?? 0)).toBeGreaterThan(0);
      await slow.compute.virtualMachineScaleSetRollingUpgrades.cancel(rg, 'rollc', FAST_POLL);
      const cancelled = await slow.compute.virtualMachineScaleSetRollingUpgrades.getLatest(rg, 'rollc');
      expect(cancelled).toMatchObject({ runningStatus: { code: 'Cancelled', lastAction: 'Cancel' } });
      const stale = [];
      for await (const vm of slow.compute.virtualMachineScaleSetVMs.list(rg, 'rollc', { filter: 'properties/latestModelApplied eq false' })) stale.push(vm.instanceId);
      expect(stale.length).toBeGreaterThan(0);
    } finally {
      await slow.close();
    }
  });
});

describe('orchestration modes, instance protection and automatic OS upgrades', () => {
  const uniformModel = (name: string) => ({
    osProfile: { computerNamePrefix: name, adminUsername: 'azureuser' },
    storageProfile: { imageReference: { id: versionId('ubuntu-web') } },
    extensionProfile: { extensions: [{ name: 'health', publisher: 'Microsoft.ManagedServices', typePropertiesType: 'ApplicationHealthLinux', typeHandlerVersion: '2.0' }] },
  });

  it('lists Flexible members as VMs of the group filtered on the scale set, and refuses the Uniform-only instance APIs', async () => {
    await t.resources.resourceGroups.createOrUpdate('flex-a', { location: 'eastus' });
    await t.compute.virtualMachineScaleSets.createOrUpdate('flex-a', 'flexa', {
      location: 'eastus', sku: { name: 'Standard_D2s_v5', capacity: 2 }, orchestrationMode: 'Flexible', upgradePolicy: { mode: 'Manual' }, virtualMachineProfile: uniformModel('flexa'),
    }, FAST_POLL);
    const scaleSetId = t.id('flex-a/providers/Microsoft.Compute/virtualMachineScaleSets/flexa');
    const members = [];
    for await (const vm of t.compute.virtualMachines.list('flex-a', { filter: `'virtualMachineScaleSet/id' eq '${scaleSetId}'`, expand: 'instanceView' })) members.push(vm);
    expect(members).toHaveLength(2);
    expect(members[0]!.name).toMatch(/^flexa_[0-9a-f]{8}$/);
    expect(members[0]!.virtualMachineScaleSet?.id).toBe(scaleSetId);
    expect(members[0]!.instanceView?.vmHealth?.status?.code).toBe('HealthState/healthy');
    // Manual upgrades take the members' VM names as instance ids.
    await t.compute.virtualMachineScaleSets.update('flex-a', 'flexa', { virtualMachineProfile: { storageProfile: { imageReference: { id: versionId('ubuntu-app') } } } }, FAST_POLL);
    await t.compute.virtualMachineScaleSets.updateInstances('flex-a', 'flexa', { instanceIds: [members[0]!.name!] }, FAST_POLL);
    const after = [];
    for await (const vm of t.compute.virtualMachines.list('flex-a', { filter: `'virtualMachineScaleSet/id' eq '${scaleSetId}'` })) after.push(vm.storageProfile?.imageReference?.id);
    expect(after).toEqual([versionId('ubuntu-app'), versionId('ubuntu-web')]);

    expect(await failure(instances('flex-a', 'flexa'))).toMatchObject({ statusCode: 409, code: 'OperationNotAllowed' });
    const list = t.compute.virtualMachines.list('flex-a', { expand: 'instanceView' });
    expect(await failure((async () => { for await (const _ of list) void _; })())).toMatchObject({ statusCode: 400, code: 'InvalidParameter' });
    const flip = t.compute.virtualMachineScaleSets.createOrUpdate('flex-a', 'flexa', {
      location: 'eastus', sku: { name: 'Standard_D2s_v5', capacity: 2 }, orchestrationMode: 'Uniform', upgradePolicy: { mode: 'Manual' }, virtualMachineProfile: uniformModel('flexa'),
    }, FAST_POLL);
    expect(await failure(flip)).toMatchObject({ statusCode: 409, code: 'PropertyChangeNotAllowed' });
  });

  it('leaves protected instances alone: refused by manual upgrades, skipped by Automatic upgrades', async () => {
    await t.resources.resourceGroups.createOrUpdate('prot-a', { location: 'eastus' });
    await t.compute.virtualMachineScaleSets.createOrUpdate('prot-a', 'prota', {
      location: 'eastus', sku: { name: 'Standard_D2s_v5', capacity: 2 }, upgradePolicy: { mode: 'Automatic' }, virtualMachineProfile: uniformModel('prota'),
    }, FAST_POLL);
    await t.compute.virtualMachineScaleSetVMs.update('prot-a', 'prota', '1', { location: 'eastus', protectionPolicy: { protectFromScaleSetActions: true } } as never, FAST_POLL);
    await t.compute.virtualMachineScaleSets.update('prot-a', 'prota', { virtualMachineProfile: { storageProfile: { imageReference: { id: versionId('ubuntu-app') } } } }, FAST_POLL);
    const list = await instances('prot-a', 'prota');
    expect(list.map((vm) => [vm.instanceId, vm.storageProfile?.imageReference?.id, vm.protectionPolicy?.protectFromScaleSetActions ?? false])).toEqual([
      ['0', versionId('ubuntu-app'), false],
      ['1', versionId('ubuntu-web'), true],
    ]);
    const refused = await failure(t.compute.virtualMachineScaleSets.updateInstances('prot-a', 'prota', { instanceIds: ['1'] }, FAST_POLL));
    expect(refused).toMatchObject({ statusCode: 409, code: 'OperationNotAllowed' });
    expect(refused.message).toContain('protected from scale set actions');
  });

  it('refuses automatic OS image upgrade with a Manual policy or without a health source', async () => {
    await t.resources.resourceGroups.createOrUpdate('aos-a', { location: 'eastus' });
    const create = (mode: 'Manual' | 'Rolling', extensions: boolean) =>
      t.compute.virtualMachineScaleSets.createOrUpdate('aos-a', 'aosa', {
        location: 'eastus', sku: { name: 'Standard_D2s_v5', capacity: 0 },
        upgradePolicy: { mode, automaticOSUpgradePolicy: { enableAutomaticOSUpgrade: true } },
        virtualMachineProfile: extensions ? uniformModel('aosa') : { ...uniformModel('aosa'), extensionProfile: { extensions: [] } },
      }, FAST_POLL);
    expect(await failure(create('Manual', true))).toMatchObject({ statusCode: 400, code: 'InvalidParameter' });
    expect(await failure(create('Rolling', false))).toMatchObject({ statusCode: 400, code: 'InvalidParameter' });
  });
});
