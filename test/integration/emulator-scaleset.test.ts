// Scale sets through @azure/arm-compute, on the seeded local environment: the model, instances with
// latestModelApplied and health, manual upgrades, reimage, and rolling upgrades (progress, cancel, fault).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    const latest = await t.compute.virtualMachineScaleSetRollingUpgrades.getLatest('roll-a', 'rolla');
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
    const latest = await t.compute.virtualMachineScaleSetRollingUpgrades.getLatest('roll-b', 'rollb');
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
