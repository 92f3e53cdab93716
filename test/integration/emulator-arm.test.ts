// Conformance of the emulator's resource groups, network resources by id, VMs and managed images, through the real
// @azure/arm-resources and @azure/arm-compute clients: pollers, RestErrors and Azure's state rules.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_POLL, NETWORK_API, UBUNTU, failure, startTestEmulator, vmModel, type TestEmulator } from './emulator-helpers.ts';

let t: TestEmulator;

beforeAll(async () => {
  t = await startTestEmulator();
});
afterAll(async () => {
  await t?.close();
});

const power = async (rg: string, vm: string) =>
  (await t.compute.virtualMachines.get(rg, vm, { expand: 'instanceView' })).instanceView?.statuses?.map((s) => s.code);

describe('resource groups', () => {
  it('creates (201 then 200), reads, checks existence and lists resources with a tag filter', async () => {
    const created = await t.resources.resourceGroups.createOrUpdate('rg-a', { location: 'eastus', tags: { owner: 'kiln' } });
    expect(created).toMatchObject({ name: 'rg-a', location: 'eastus', properties: { provisioningState: 'Succeeded' }, tags: { owner: 'kiln' } });
    expect(created.id).toBe(t.id('rg-a'));
    await t.resources.resourceGroups.createOrUpdate('rg-a', { location: 'eastus' });
    expect((await t.resources.resourceGroups.get('rg-a')).name).toBe('rg-a');
    expect(await t.resources.resourceGroups.checkExistence('rg-a')).toEqual({ body: true });
    expect(await t.resources.resourceGroups.checkExistence('rg-missing')).toEqual({ body: false });

    await t.resources.resources.createOrUpdateById(t.id('rg-a/providers/Microsoft.Network/networkSecurityGroups/nsg1').slice(1), NETWORK_API, { location: 'eastus', tags: { kiln: 'yes' } }, FAST_POLL);
    await t.resources.resources.createOrUpdateById(t.id('rg-a/providers/Microsoft.Network/networkSecurityGroups/nsg2').slice(1), NETWORK_API, { location: 'eastus' }, FAST_POLL);
    const all: string[] = [];
    for await (const r of t.resources.resources.listByResourceGroup('rg-a')) all.push(r.name!);
    expect(all.sort()).toEqual(['nsg1', 'nsg2']);
    const tagged: string[] = [];
    for await (const r of t.resources.resources.listByResourceGroup('rg-a', { filter: "tagName eq 'kiln' and tagValue eq 'yes'" })) tagged.push(r.name!);
    expect(tagged).toEqual(['nsg1']);
    const groups: string[] = [];
    for await (const rg of t.resources.resourceGroups.list({ filter: "tagName eq 'owner' and tagValue eq 'kiln'" })) groups.push(rg.name!);
    expect(groups).toEqual(['rg-a']);
  });

  it('answers ResourceGroupNotFound (404) for a missing group, and InvalidResourceGroupName for a bad name', async () => {
    expect(await failure(t.resources.resourceGroups.get('nope'))).toMatchObject({ code: 'ResourceGroupNotFound', statusCode: 404 });
    expect(await failure(t.compute.virtualMachines.get('nope', 'vm1'))).toMatchObject({ code: 'ResourceGroupNotFound', statusCode: 404 });
    expect(await failure(t.resources.resourceGroups.createOrUpdate('bad/name.', { location: 'eastus' }))).toMatchObject({ statusCode: 400 });
    expect(await failure(t.resources.resourceGroups.createOrUpdate('ends-with-dot.', { location: 'eastus' }))).toMatchObject({ code: 'InvalidResourceGroupName', statusCode: 400 });
    expect(await failure(t.resources.resourceGroups.createOrUpdate('no-location', {} as never))).toMatchObject({ code: 'LocationRequired', statusCode: 400 });
  });

  it('deletes a group with a Location-only LRO and deletes what was in it, disks included', async () => {
    const disks = async () => new Set(await readdir(join(t.home, 'disks')).catch(() => []));
    await t.resources.resourceGroups.createOrUpdate('rg-del', { location: 'eastus' });
    const before = await disks();
    await t.compute.virtualMachines.createOrUpdate('rg-del', 'vm1', vmModel({ image: UBUNTU }), FAST_POLL);
    expect((await disks()).size).toBe(before.size + 1);
    await t.resources.resourceGroups.delete('rg-del', FAST_POLL);
    expect(await t.resources.resourceGroups.checkExistence('rg-del')).toEqual({ body: false });
    expect(await disks()).toEqual(before);
    await t.resources.resourceGroups.createOrUpdate('rg-del', { location: 'eastus' });
    expect(await failure(t.compute.virtualMachines.get('rg-del', 'vm1'))).toMatchObject({ code: 'ResourceNotFound', statusCode: 404 });
  });
});

describe('network resources by id', () => {
  it('creates a virtual network with a subnet and an NSG, reads them, deletes them (the NSG once no subnet names it; 204 when gone)', async () => {
    await t.resources.resourceGroups.createOrUpdate('rg-net', { location: 'eastus' });
    const nsgId = t.id('rg-net/providers/Microsoft.Network/networkSecurityGroups/staging-nsg');
    const vnetId = t.id('rg-net/providers/Microsoft.Network/virtualNetworks/staging-vnet');
    await t.resources.resources.createOrUpdateById(nsgId.slice(1), NETWORK_API, {
      location: 'eastus',
      properties: { securityRules: [{ name: 'ssh', properties: { priority: 100, direction: 'Inbound', access: 'Deny', protocol: 'Tcp', sourceAddressPrefix: '*', sourcePortRange: '*', destinationAddressPrefix: '*', destinationPortRange: '22' } }] },
    }, FAST_POLL);
    // The usual id (leading slash) makes the SDK send `//subscriptions/…`: it works too.
    const vnet = await t.resources.resources.createOrUpdateById(vnetId, NETWORK_API, {
      location: 'eastus',
      properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] }, subnets: [{ name: 'default', properties: { addressPrefix: '10.0.1.0/24', networkSecurityGroup: { id: nsgId } } }] },
    }, FAST_POLL);
    expect(vnet.properties).toMatchObject({ provisioningState: 'Succeeded', subnets: [{ name: 'default', properties: { addressPrefix: '10.0.1.0/24' } }] });
    const subnet = await t.resources.resources.getById(`${vnetId}/subnets/default`.slice(1), NETWORK_API);
    expect(subnet.properties).toMatchObject({ addressPrefix: '10.0.1.0/24', provisioningState: 'Succeeded' });
    expect(await t.resources.resources.checkExistenceById(nsgId.slice(1), NETWORK_API)).toEqual({ body: true });

    // The subnet names the NSG: the NSG stays until the VNet (and its subnet) is gone, the order Kiln deletes in.
    expect(await failure(t.resources.resources.deleteById(nsgId.slice(1), NETWORK_API, FAST_POLL))).toMatchObject({
      code: 'InUseNetworkSecurityGroupCannotBeDeleted', statusCode: 400, message: expect.stringContaining(`in use by the following resources: ${vnetId}/subnets/default.`),
    });
    await t.resources.resources.deleteById(vnetId.slice(1), NETWORK_API, FAST_POLL);
    expect(await failure(t.resources.resources.getById(vnetId.slice(1), NETWORK_API))).toMatchObject({ code: 'ResourceNotFound', statusCode: 404 });
    await t.resources.resources.deleteById(nsgId.slice(1), NETWORK_API, FAST_POLL);
    expect(await t.resources.resources.checkExistenceById(nsgId.slice(1), NETWORK_API)).toEqual({ body: false });
    await t.resources.resources.deleteById(vnetId.slice(1), NETWORK_API, FAST_POLL);
    const bad = await failure(t.resources.resources.createOrUpdateById(vnetId.slice(1), NETWORK_API, { location: 'eastus', properties: {} }, FAST_POLL));
    expect(bad).toMatchObject({ code: 'InvalidParameter', statusCode: 400 });
  });
});

describe('virtual machines', () => {
  it('creates from a marketplace image, powers off, deallocates, generalizes, and refuses what Azure refuses', async () => {
    await t.resources.resourceGroups.createOrUpdate('rg-vm', { location: 'eastus' });
    const vnetId = t.id('rg-vm/providers/Microsoft.Network/virtualNetworks/vnet');
    await t.resources.resources.createOrUpdateById(vnetId.slice(1), NETWORK_API, { location: 'eastus', properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] }, subnets: [{ name: 'default', properties: { addressPrefix: '10.0.1.0/24' } }] } }, FAST_POLL);
    const created = await t.compute.virtualMachines.createOrUpdate('rg-vm', 'build', vmModel({ image: UBUNTU, subnetId: `${vnetId}/subnets/default` }), FAST_POLL);
    expect(created).toMatchObject({ name: 'build', provisioningState: 'Succeeded', osProfile: { adminUsername: 'azureuser' } });
    expect(created.osProfile?.adminPassword).toBeUndefined();
    expect(created.vmId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await power('rg-vm', 'build')).toEqual(['ProvisioningState/succeeded', 'PowerState/running']);

    expect(await failure(t.compute.virtualMachines.createOrUpdate('rg-vm', 'nosubnet', vmModel({ image: UBUNTU, subnetId: `${vnetId}/subnets/missing` }), FAST_POLL))).toMatchObject({ code: 'InvalidResourceReference', statusCode: 400 });
    expect(await failure(t.compute.virtualMachines.createOrUpdate('rg-vm', 'noos', vmModel({ image: UBUNTU, osProfile: false }), FAST_POLL))).toMatchObject({ code: 'InvalidParameter', statusCode: 400 });
    expect(await failure(t.compute.virtualMachines.createOrUpdate('rg-vm', '-bad-', vmModel({ image: UBUNTU }), FAST_POLL))).toMatchObject({ code: 'InvalidResourceName', statusCode: 400 });

    const generalizeRunning = await failure(t.compute.virtualMachines.generalize('rg-vm', 'build'));
    expect(generalizeRunning).toMatchObject({ code: 'OperationNotAllowed', statusCode: 409 });
    expect(generalizeRunning.message).toContain('running');
    const imageFromRunning = await failure(t.compute.images.createOrUpdate('rg-vm', 'img', { location: 'eastus', sourceVirtualMachine: { id: created.id } }, FAST_POLL));
    expect(imageFromRunning).toMatchObject({ code: 'OperationNotAllowed', statusCode: 409 });

    await t.compute.virtualMachines.powerOff('rg-vm', 'build', FAST_POLL);
    expect(await power('rg-vm', 'build')).toContain('PowerState/stopped');
    await t.compute.virtualMachines.restart('rg-vm', 'build', FAST_POLL).then(
      () => expect.unreachable('restart of a stopped VM must fail'),
      (error: { code?: string }) => expect(error.code).toBe('OperationNotAllowed'),
    );
    await t.compute.virtualMachines.start('rg-vm', 'build', FAST_POLL);
    await t.compute.virtualMachines.restart('rg-vm', 'build', FAST_POLL);
    expect(await power('rg-vm', 'build')).toContain('PowerState/running');
    await t.compute.virtualMachines.deallocate('rg-vm', 'build', FAST_POLL);
    expect(await power('rg-vm', 'build')).toContain('PowerState/deallocated');
    await t.compute.virtualMachines.generalize('rg-vm', 'build');
    expect(await power('rg-vm', 'build')).toEqual(['ProvisioningState/succeeded', 'PowerState/deallocated', 'OSState/generalized']);
    expect(await failure(t.compute.virtualMachines.start('rg-vm', 'build', FAST_POLL))).toMatchObject({ code: 'OperationNotAllowed', statusCode: 409 });

    const image = await t.compute.images.createOrUpdate('rg-vm', 'img', { location: 'eastus', sourceVirtualMachine: { id: created.id }, hyperVGeneration: 'V2' }, FAST_POLL);
    expect(image).toMatchObject({ provisioningState: 'Succeeded', storageProfile: { osDisk: { osType: 'Linux', osState: 'Generalized' } } });
    const fromImage = await t.compute.virtualMachines.createOrUpdate('rg-vm', 'from-image', vmModel({ image: { id: image.id } }), FAST_POLL);
    expect(fromImage.provisioningState).toBe('Succeeded');
    expect((await t.compute.images.get('rg-vm', 'img')).name).toBe('img');

    await t.compute.virtualMachines.delete('rg-vm', 'build', FAST_POLL);
    expect(await failure(t.compute.virtualMachines.get('rg-vm', 'build'))).toMatchObject({ code: 'ResourceNotFound', statusCode: 404 });
    // Deleting what is not there is fine (204).
    await t.compute.virtualMachines.delete('rg-vm', 'build', FAST_POLL);
    await t.compute.images.delete('rg-vm', 'img', FAST_POLL);
    expect(await failure(t.compute.images.get('rg-vm', 'img'))).toMatchObject({ statusCode: 404 });
  });

  it('keeps its resources across a restart on the same home', async () => {
    await t.resources.resourceGroups.createOrUpdate('rg-keep', { location: 'westeurope', tags: { a: 'b' } });
    await t.compute.virtualMachines.createOrUpdate('rg-keep', 'vm1', vmModel({ image: UBUNTU, location: 'westeurope' }), FAST_POLL);
    const token = t.emulator.token;
    await t.restart();
    expect(t.emulator.token).toBe(token);
    expect(await t.resources.resourceGroups.get('rg-keep')).toMatchObject({ location: 'westeurope', tags: { a: 'b' } });
    expect(await power('rg-keep', 'vm1')).toContain('PowerState/running');
  });
});
