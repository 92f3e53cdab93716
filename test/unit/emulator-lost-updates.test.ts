// Lost updates in the emulator: an effect or handler that awaits guest work (a disk, a snapshot, a deprovision, a
// script) while a request writes the same resource must not put back the copy it read before. The guest port is the
// seam: a stand-in whose calls the test holds open, so the second write lands inside the await, every time.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CORE_LIMITS } from '../../local/azure/arm/catalogue/vm-sizes.ts';
import type { GuestPort, HandlerContext } from '../../local/azure/arm/context.ts';
import { galleryRoutes } from '../../local/azure/arm/handlers/galleries.ts';
import { imageRoutes } from '../../local/azure/arm/handlers/images.ts';
import { createMarketplaceCatalogue } from '../../local/azure/arm/handlers/marketplace.ts';
import { networkRoutes } from '../../local/azure/arm/handlers/network.ts';
import { networkInterfaceRoutes } from '../../local/azure/arm/handlers/networkInterfaces.ts';
import { operationRoutes } from '../../local/azure/arm/handlers/operations.ts';
import { resourceGroupRoutes } from '../../local/azure/arm/handlers/resourceGroups.ts';
import { runCommandRoutes } from '../../local/azure/arm/handlers/runCommands.ts';
import { scaleSetRoutes } from '../../local/azure/arm/handlers/scaleSets.ts';
import { virtualMachineRoutes } from '../../local/azure/arm/handlers/virtualMachines.ts';
import type { ArmResponse } from '../../local/azure/arm/http.ts';
import { OperationEngine } from '../../local/azure/arm/lro.ts';
import { Resources, type StoredResource } from '../../local/azure/arm/resources.ts';
import { RouteTable } from '../../local/azure/arm/routes.ts';
import { dispatchInternal } from '../../local/azure/arm/server.ts';
import { openSqliteStore, type ArmStore } from '../../local/azure/arm/store.ts';
import { WindowsGuests } from '../../local/azure/arm/windows-guest.ts';
import { createLatency } from '../../local/azure/latency.ts';
import type { RunScriptResult } from '../../local/azure/sandbox-types.ts';

const SUB = '00000000-0000-0000-0000-000000000000';
const RG = `/subscriptions/${SUB}/resourceGroups`;
const COMPUTE = '2026-04-01';
const NETWORK = '2024-05-01';
const UBUNTU = { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' };

type GuestCall = 'createDisk' | 'snapshot' | 'deprovision' | 'runScript';

/** A call the test holds open: `reached` once the emulator is inside it, `release` lets it return. */
interface Hold {
  reached: Promise<void>;
  release: (result?: unknown) => void;
}

/** The guest port's stand-in: disks and snapshots are names in sets (so a leak shows), and any call can be held. */
function heldGuest() {
  const disks = new Set<string>();
  const snapshots = new Set<string>();
  const queued = new Map<GuestCall, { arrive: () => void; released: Promise<unknown> }[]>();
  let next = 0;
  const hold = (call: GuestCall): Hold => {
    let arrive!: () => void;
    let release!: (result?: unknown) => void;
    const reached = new Promise<void>((resolve) => (arrive = resolve));
    const released = new Promise<unknown>((resolve) => (release = resolve));
    queued.set(call, [...(queued.get(call) ?? []), { arrive, released }]);
    return { reached, release };
  };
  const pass = async (call: GuestCall): Promise<unknown> => {
    const held = queued.get(call)?.shift();
    if (!held) return undefined;
    held.arrive();
    return held.released;
  };
  const unused = (what: string) => () => Promise.reject(new Error(`the test guest does not ${what}`));
  const port: GuestPort = {
    isolation: { isolated: false, reason: 'test guest' },
    async createDisk() {
      const disk = `disk-${next++}`;
      await pass('createDisk');
      disks.add(disk);
      return disk;
    },
    async deleteDisk(disk) {
      disks.delete(disk);
    },
    async snapshot() {
      const snapshot = `snapshot-${next++}`;
      await pass('snapshot');
      snapshots.add(snapshot);
      return snapshot;
    },
    async deleteSnapshot(snapshot) {
      snapshots.delete(snapshot);
    },
    async deprovision() {
      await pass('deprovision');
    },
    async deprovisionFromHost() {},
    async readFile() {
      return undefined;
    },
    async writeFile() {},
    async runScript() {
      const stdout = await pass('runScript');
      return { isolated: false, exitCode: null, stdout: String(stdout ?? ''), stderr: '', timedOut: false, agentRemoved: false, message: 'test guest' } satisfies RunScriptResult;
    },
    startScript: unused('start scripts'),
    scriptStarted: unused('start scripts'),
    waitScript: unused('start scripts'),
    releaseScript: unused('start scripts'),
    async stopGuest() {},
    exportVhd: unused('export disks'),
  };
  return { port, hold, disks, snapshots };
}

let home: string;
let store: ArmStore;
let ops: OperationEngine;
let resources: Resources;
let guest: ReturnType<typeof heldGuest>;
let routes: RouteTable;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'kiln-lost-updates-'));
  store = openSqliteStore(home);
  resources = new Resources(store);
  // A request waits 50 ms for a held effect, then goes on beside it (as it waits 1 s in the emulator).
  ops = new OperationEngine(store, { patienceMs: 50 });
  guest = heldGuest();
  const ctx: HandlerContext = {
    subscriptionId: SUB, tenantId: 'tenant', resources, ops, latency: createLatency({ profile: 'zero' }), coreLimits: CORE_LIMITS,
    guest: guest.port, windowsGuests: new WindowsGuests(), marketplace: createMarketplaceCatalogue(), takeFault: () => undefined,
  };
  routes = new RouteTable().add(
    ...operationRoutes(ctx), ...resourceGroupRoutes(ctx), ...networkRoutes(ctx), ...networkInterfaceRoutes(ctx), ...virtualMachineRoutes(ctx),
    ...runCommandRoutes(ctx), ...imageRoutes(ctx), ...galleryRoutes(ctx), ...scaleSetRoutes(ctx),
  );
  await call('PUT', `${RG}/rg`, '2025-04-01', { location: 'eastus' });
  await call('PUT', `${RG}/rg/providers/Microsoft.Network/virtualNetworks/vnet`, NETWORK, {
    location: 'eastus', properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] }, subnets: [{ name: 'default', properties: { addressPrefix: '10.0.0.0/24' } }] },
  });
});
afterEach(async () => {
  await ops.settleFully();
  ops.close();
  store.close();
  await rm(home, { recursive: true, force: true });
});

/** One request through the route table, as the server runs it (due steps applied first, waiting at most the patience). */
function call(method: string, path: string, apiVersion: string, body?: unknown): Promise<ArmResponse> {
  return dispatchInternal(routes, ops, { method, path, apiVersion, body, origin: 'https://127.0.0.1:1' });
}

const stored = (id: string): StoredResource => {
  const resource = resources.find(id);
  if (!resource) throw new Error(`${id} is not stored`);
  return resource;
};

/** Until the emulator's own tasks (a script's report) got as far as `done` says: turns of the event loop, no clock. */
async function until(done: () => boolean): Promise<void> {
  for (let turn = 0; !done(); turn++) {
    if (turn > 10_000) throw new Error('the emulator did not get there');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const vmPath = (name: string) => `${RG}/rg/providers/Microsoft.Compute/virtualMachines/${name}`;

function vmBody(name: string, tags?: Record<string, string>) {
  return {
    location: 'eastus', ...(tags ? { tags } : {}),
    properties: {
      hardwareProfile: { vmSize: 'Standard_D2s_v5' },
      storageProfile: { imageReference: UBUNTU, osDisk: { createOption: 'FromImage' } },
      osProfile: { computerName: name, adminUsername: 'azureuser', adminPassword: 'Secret-Passw0rd!' },
      networkProfile: {
        networkApiVersion: '2022-11-01',
        networkInterfaceConfigurations: [{
          name: `${name}-nic`, properties: { primary: true, deleteOption: 'Delete', ipConfigurations: [{ name: 'ip', properties: { subnet: { id: `${RG}/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default` } } }] },
        }],
      },
    },
  };
}

async function runningVm(name: string): Promise<void> {
  await call('PUT', vmPath(name), COMPUTE, vmBody(name));
  await ops.settleFully();
}

describe('effects that await guest work keep what requests wrote meanwhile', () => {
  it('a VM create whose disk is still being made keeps the tags an update PUT wrote meanwhile, and ends running', async () => {
    const disk = guest.hold('createDisk');
    await call('PUT', vmPath('vm1'), COMPUTE, vmBody('vm1'));
    // The update's request waits out the held create effect, then writes beside it.
    const settling = ops.settleFully();
    await disk.reached;
    await call('PUT', vmPath('vm1'), COMPUTE, vmBody('vm1', { owner: 'update' }));
    disk.release();
    await settling;
    await ops.settleFully();
    const vm = stored(vmPath('vm1'));
    expect(vm.tags).toEqual({ owner: 'update' });
    expect(vm.state).toMatchObject({ power: 'running', disk: 'disk-0' });
    expect(vm.properties.provisioningState).toBe('Succeeded');
  });

  it('a VM whose group is deleted while its disk is made is not stored again, and its disk is freed', async () => {
    const disk = guest.hold('createDisk');
    await call('PUT', vmPath('vm2'), COMPUTE, vmBody('vm2'));
    const settling = ops.settleFully();
    await disk.reached;
    await call('DELETE', `${RG}/rg`, '2025-04-01');
    await ops.settle();
    expect(resources.find(`${RG}/rg`)).toBeUndefined();
    disk.release();
    await settling;
    expect(resources.find(vmPath('vm2'))).toBeUndefined();
    expect([...guest.disks]).toEqual([]);
  });

  it('generalize keeps the tags an update PUT wrote while the agent deprovisioned the disk', async () => {
    await runningVm('vm3');
    await call('POST', `${vmPath('vm3')}/powerOff`, COMPUTE);
    await ops.settleFully();
    const deprovision = guest.hold('deprovision');
    const generalizing = call('POST', `${vmPath('vm3')}/generalize`, COMPUTE);
    await deprovision.reached;
    await call('PUT', vmPath('vm3'), COMPUTE, vmBody('vm3', { owner: 'update' }));
    deprovision.release();
    expect((await generalizing).status).toBe(200);
    await ops.settleFully();
    const vm = stored(vmPath('vm3'));
    expect(vm.tags).toEqual({ owner: 'update' });
    expect(vm.state).toMatchObject({ generalized: true, power: 'stopped' });
  });

  it('a managed image whose group is deleted during its capture is not stored again, and its snapshot is freed', async () => {
    await runningVm('imgsrc');
    await call('POST', `${vmPath('imgsrc')}/powerOff`, COMPUTE);
    await ops.settleFully();
    await call('POST', `${vmPath('imgsrc')}/generalize`, COMPUTE);
    const snapshot = guest.hold('snapshot');
    const image = `${RG}/rg/providers/Microsoft.Compute/images/img`;
    await call('PUT', image, COMPUTE, { location: 'eastus', properties: { sourceVirtualMachine: { id: vmPath('imgsrc') } } });
    const settling = ops.settleFully();
    await snapshot.reached;
    await call('DELETE', `${RG}/rg`, '2025-04-01');
    await ops.settle();
    expect(resources.find(`${RG}/rg`)).toBeUndefined();
    snapshot.release();
    await settling;
    expect(resources.find(image)).toBeUndefined();
    expect([...guest.snapshots]).toEqual([]);
  });

  it('a gallery version keeps the target regions a retried PUT added while its snapshot was taken', async () => {
    await runningVm('src');
    await call('POST', `${vmPath('src')}/powerOff`, COMPUTE);
    await ops.settleFully();
    await call('POST', `${vmPath('src')}/generalize`, COMPUTE);
    const gallery = `${RG}/rg/providers/Microsoft.Compute/galleries/gal`;
    await call('PUT', gallery, '2025-03-03', { location: 'eastus' });
    await call('PUT', `${gallery}/images/web`, '2025-03-03', { location: 'eastus', properties: { osType: 'Linux', osState: 'Generalized', hyperVGeneration: 'V2', identifier: { publisher: 'p', offer: 'o', sku: 's' } } });
    await ops.settleFully();
    const version = `${gallery}/images/web/versions/1.0.0`;
    const body = (regions: string[]) => ({ location: 'eastus', properties: { storageProfile: { source: { virtualMachineId: vmPath('src') } }, publishingProfile: { targetRegions: regions.map((name) => ({ name })) } } });
    const snapshot = guest.hold('snapshot');
    await call('PUT', version, '2025-03-03', body(['eastus']));
    const settling = ops.settleFully();
    await snapshot.reached;
    await call('PUT', version, '2025-03-03', body(['eastus', 'westeurope']));
    snapshot.release();
    await settling;
    await ops.settleFully();
    const stored_ = stored(version);
    expect((stored_.properties.publishingProfile as { targetRegions: { name: string }[] }).targetRegions.map((r) => r.name)).toEqual(['eastus', 'westeurope']);
    expect(stored_.state.snapshot).toBe([...guest.snapshots][0]);
    expect(stored_.properties.provisioningState).toBe('Succeeded');
  });
});

describe('scale sets', () => {
  const vmss = `${RG}/rg/providers/Microsoft.Compute/virtualMachineScaleSets/web`;
  const model = (tag: string) => ({
    osProfile: { computerNamePrefix: 'web', adminUsername: 'azureuser' },
    storageProfile: { imageReference: UBUNTU },
    extensionProfile: { extensions: [{ name: 'health', properties: { publisher: 'Microsoft.ManagedServices', type: 'ApplicationHealthLinux', typeHandlerVersion: '2.0' } }] },
    userData: tag,
  });

  it('a model update while the instances are still being made is not put back by the create', async () => {
    const disk = guest.hold('createDisk');
    await call('PUT', vmss, COMPUTE, {
      location: 'eastus', sku: { name: 'Standard_D2s_v5', tier: 'Standard', capacity: 1 },
      properties: { upgradePolicy: { mode: 'Manual' }, virtualMachineProfile: model('v1') },
    });
    const settling = ops.settleFully();
    await disk.reached;
    await call('PATCH', vmss, COMPUTE, { properties: { virtualMachineProfile: model('v2') } });
    disk.release();
    await settling;
    // The create's end kept the newer model, and left saying Succeeded to the update's own operation.
    expect((stored(vmss).properties.virtualMachineProfile as { userData: string }).userData).toBe('v2');
    expect(stored(vmss).properties.provisioningState).toBe('Updating');
    await ops.settleFully();
    const set = stored(vmss);
    expect((set.properties.virtualMachineProfile as { userData: string }).userData).toBe('v2');
    expect(set.state.modelVersion).toBe(2);
    expect(set.properties.provisioningState).toBe('Succeeded');
    // Manual mode: the instance made from the first model stays on it.
    expect(stored(`${vmss}/virtualMachines/0`).state).toMatchObject({ modelVersion: 1, disk: 'disk-0' });
  });

  it('a rolling batch and a reimage of one instance leave it one disk (no leak) and keep its protection policy', async () => {
    await call('PUT', vmss, COMPUTE, {
      location: 'eastus', sku: { name: 'Standard_D2s_v5', tier: 'Standard', capacity: 1 },
      properties: { upgradePolicy: { mode: 'Rolling', rollingUpgradePolicy: { maxBatchInstancePercent: 100, pauseTimeBetweenBatches: 'PT0S' } }, virtualMachineProfile: model('v1') },
    });
    await ops.settleFully();
    expect([...guest.disks]).toEqual(['disk-0']);
    const [batchDisk, reimageDisk] = [guest.hold('createDisk'), guest.hold('createDisk')];
    // A model change starts a rollout; its batch rebuilds instance 0 (held in createDisk) ...
    await call('PATCH', vmss, COMPUTE, { properties: { virtualMachineProfile: model('v2') } });
    await call('GET', vmss, COMPUTE);
    await batchDisk.reached;
    // ... while a reimage rebuilds the same instance on the scale set's own lane (held too).
    await call('POST', `${vmss}/virtualMachines/0/reimage`, COMPUTE);
    const settling = ops.settleFully();
    await reimageDisk.reached;
    await call('PUT', `${vmss}/virtualMachines/0`, COMPUTE, { properties: { protectionPolicy: { protectFromScaleIn: true } } });
    batchDisk.release();
    reimageDisk.release();
    await settling;
    await ops.settleFully();
    const instance = stored(`${vmss}/virtualMachines/0`);
    expect([...guest.disks]).toEqual([instance.state.disk]);
    expect(instance.properties.protectionPolicy).toEqual({ protectFromScaleIn: true, protectFromScaleSetActions: false });
    expect(instance.state).toMatchObject({ modelVersion: 2, upgrading: false });
  });
});

describe('managed run commands PUT again while a run is going', () => {
  it('the earlier run reports into nothing: its operation is preempted and the newer run\'s state stays', async () => {
    await runningVm('rc-vm');
    const rc = `${vmPath('rc-vm')}/runCommands/step`;
    const [first, second] = [guest.hold('runScript'), guest.hold('runScript')];
    await call('PUT', rc, COMPUTE, { location: 'eastus', properties: { source: { script: 'echo first' } } });
    const firstOp = ops.running(rc)[0]!;
    await call('GET', rc, COMPUTE);
    await first.reached;
    await call('PUT', rc, COMPUTE, { location: 'eastus', properties: { source: { script: 'echo second' } } });
    const secondOp = ops.running(rc).find((op) => op.id !== firstOp.id)!;
    await call('GET', rc, COMPUTE);
    await second.reached;
    first.release('first\n');
    // The script's end hands the operation back to the clock (its report step), then a request applies it.
    await until(() => ops.get(firstOp.id)?.external === false);
    await ops.settleFully();
    await call('GET', rc, COMPUTE);
    expect(ops.get(firstOp.id)).toMatchObject({ status: 'Failed', error: { code: 'OperationPreempted' } });
    expect(stored(rc).state.view).toMatchObject({ executionState: 'Running' });
    second.release('second\n');
    await until(() => ops.get(secondOp.id)?.external === false);
    await ops.settleFully();
    await call('GET', rc, COMPUTE);
    expect(ops.get(secondOp.id)?.status).toBe('Succeeded');
    expect(stored(rc).state.view).toMatchObject({ executionState: 'Succeeded', output: 'second\n' });
  });
});
