// Conformance of galleries, image definitions and image versions through @azure/arm-compute: replication over time,
// $expand=ReplicationStatus, excludeFromLatest, numeric "latest", duplicates, and the source rules.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_POLL, UBUNTU, failure, startTestEmulator, vmModel, type TestEmulator } from './emulator-helpers.ts';

let t: TestEmulator;
const RG = 'rg-gallery';

/** A deallocated, generalized VM to capture from. */
async function generalizedVm(name: string): Promise<string> {
  const vm = await t.compute.virtualMachines.createOrUpdate(RG, name, vmModel({ image: UBUNTU, name }), FAST_POLL);
  await t.compute.virtualMachines.deallocate(RG, name, FAST_POLL);
  await t.compute.virtualMachines.generalize(RG, name);
  return vm.id!;
}

const versionBody = (source: string, regions = ['eastus'], excludeFromLatest = false) => ({
  location: 'eastus',
  storageProfile: { source: { virtualMachineId: source } },
  publishingProfile: { targetRegions: regions.map((name) => ({ name, regionalReplicaCount: 1 })), excludeFromLatest },
});

beforeAll(async () => {
  // `fast` at a small scale: replication takes a few hundred milliseconds, so progress can be watched.
  t = await startTestEmulator({ profile: 'fast', scale: 0.05 });
  await t.resources.resourceGroups.createOrUpdate(RG, { location: 'eastus' });
  await t.compute.galleries.createOrUpdate(RG, 'gal', { location: 'eastus', description: 'test' }, FAST_POLL);
  await t.compute.galleryImages.createOrUpdate(RG, 'gal', 'web', {
    location: 'eastus', osType: 'Linux', osState: 'Generalized', hyperVGeneration: 'V2', identifier: { publisher: 'kiln', offer: 'web', sku: '1' },
  }, FAST_POLL);
});
afterAll(async () => {
  await t?.close();
});

describe('galleries and image definitions', () => {
  it('creates, reads and lists them, and validates definitions', async () => {
    expect(await t.compute.galleries.get(RG, 'gal')).toMatchObject({ name: 'gal', description: 'test', provisioningState: 'Succeeded', identifier: { uniqueName: expect.stringContaining('GAL') } });
    const names: string[] = [];
    for await (const image of t.compute.galleryImages.listByGallery(RG, 'gal')) names.push(image.name!);
    expect(names).toEqual(['web']);
    const missingIdentifier = await failure(t.compute.galleryImages.createOrUpdate(RG, 'gal', 'bad', { location: 'eastus', osType: 'Linux', osState: 'Generalized' } as never, FAST_POLL));
    expect(missingIdentifier).toMatchObject({ code: 'InvalidParameter', statusCode: 400 });
    const change = await failure(t.compute.galleryImages.createOrUpdate(RG, 'gal', 'web', { location: 'eastus', osType: 'Linux', osState: 'Specialized', identifier: { publisher: 'kiln', offer: 'web', sku: '1' } }, FAST_POLL));
    expect(change).toMatchObject({ code: 'PropertyChangeNotAllowed', statusCode: 409 });
    expect(await failure(t.compute.galleryImages.get(RG, 'gal', 'nope'))).toMatchObject({ code: 'NotFound', statusCode: 404 });
    expect(await failure(t.compute.galleryImages.createOrUpdate(RG, 'nogallery', 'web', { location: 'eastus', osType: 'Linux', osState: 'Generalized', identifier: { publisher: 'a', offer: 'b', sku: 'c' } }, FAST_POLL))).toMatchObject({ code: 'ParentResourceNotFound', statusCode: 404 });
  });
});

describe('image versions', () => {
  it('replicate to each target region over time, visible with $expand=ReplicationStatus', async () => {
    const source = await generalizedVm('src1');
    const poller = t.compute.galleryImageVersions.createOrUpdate(RG, 'gal', 'web', '1.0.0', versionBody(source, ['eastus', 'westeurope']), FAST_POLL);
    await poller.submitted();
    const during = await t.compute.galleryImageVersions.get(RG, 'gal', 'web', '1.0.0', { expand: 'ReplicationStatus' });
    expect(during.provisioningState).toBe('Creating');
    expect(during.replicationStatus?.aggregatedState).toBe('InProgress');
    expect(during.replicationStatus?.summary?.map((s) => s.region).sort()).toEqual(['East US', 'West Europe']);
    expect(during.replicationStatus?.summary?.every((s) => s.state === 'Replicating' && s.progress! < 100)).toBe(true);
    const result = await poller;
    expect(result.provisioningState).toBe('Succeeded');
    expect(result.replicationStatus).toBeUndefined();
    const after = await t.compute.galleryImageVersions.get(RG, 'gal', 'web', '1.0.0', { expand: 'ReplicationStatus' });
    expect(after.replicationStatus).toMatchObject({ aggregatedState: 'Completed', summary: [{ state: 'Completed', progress: 100 }, { state: 'Completed', progress: 100 }] });
    expect(after.publishingProfile?.targetRegions?.map((r) => r.name)).toEqual(['East US', 'West Europe']);
  });

  it('"latest" is the highest version by number, skipping excludeFromLatest', async () => {
    const source = await generalizedVm('src2');
    await t.compute.galleryImageVersions.createOrUpdate(RG, 'gal', 'web', '1.0.9', versionBody(source), FAST_POLL);
    await t.compute.galleryImageVersions.createOrUpdate(RG, 'gal', 'web', '1.0.10', versionBody(source), FAST_POLL);
    await t.compute.galleryImageVersions.createOrUpdate(RG, 'gal', 'web', '2.0.0', versionBody(source, ['eastus'], true), FAST_POLL);
    const definitionId = t.id(`${RG}/providers/Microsoft.Compute/galleries/gal/images/web`);
    const vm = await t.compute.virtualMachines.createOrUpdate(RG, 'from-latest', vmModel({ image: { id: definitionId } }), FAST_POLL);
    expect(vm.storageProfile?.imageReference?.exactVersion).toBe('1.0.10');
    const listed: string[] = [];
    for await (const v of t.compute.galleryImageVersions.listByGalleryImage(RG, 'gal', 'web')) listed.push(v.name!);
    expect(listed.sort()).toEqual(['1.0.0', '1.0.10', '1.0.9', '2.0.0']);
  });

  it('refuses a VM that is not generalized, a duplicate from another source, bad names and regions', async () => {
    const running = await t.compute.virtualMachines.createOrUpdate(RG, 'running', vmModel({ image: UBUNTU }), FAST_POLL);
    const notGeneralized = await failure(t.compute.galleryImageVersions.createOrUpdate(RG, 'gal', 'web', '3.0.0', versionBody(running.id!), FAST_POLL));
    expect(notGeneralized).toMatchObject({ code: 'OperationNotAllowed', statusCode: 409 });
    expect(notGeneralized.message).toContain('Generalized');

    const other = await generalizedVm('src3');
    expect(await failure(t.compute.galleryImageVersions.createOrUpdate(RG, 'gal', 'web', '1.0.9', versionBody(other), FAST_POLL))).toMatchObject({ code: 'Conflict', statusCode: 409 });
    expect(await failure(t.compute.galleryImageVersions.createOrUpdate(RG, 'gal', 'web', '1.0', versionBody(other), FAST_POLL))).toMatchObject({ code: 'InvalidParameter', statusCode: 400 });
    expect(await failure(t.compute.galleryImageVersions.createOrUpdate(RG, 'gal', 'web', '1.0.99999999999', versionBody(other), FAST_POLL))).toMatchObject({ code: 'InvalidParameter', statusCode: 400 });
    expect(await failure(t.compute.galleryImageVersions.createOrUpdate(RG, 'gal', 'web', '4.0.0', versionBody(other, ['westeurope']), FAST_POLL))).toMatchObject({ code: 'InvalidParameter', statusCode: 400 });
    expect(await failure(t.compute.galleryImageVersions.get(RG, 'gal', 'web', '9.9.9'))).toMatchObject({ code: 'NotFound', statusCode: 404 });
  });

  it('a VM in a region the version does not replicate to is refused; deleting is refused while children exist', async () => {
    const source = await generalizedVm('src4');
    const poller = t.compute.galleryImageVersions.createOrUpdate(RG, 'gal', 'web', '5.0.0', versionBody(source, ['eastus', 'westeurope']), FAST_POLL);
    await poller;
    const versionId = t.id(`${RG}/providers/Microsoft.Compute/galleries/gal/images/web/versions/5.0.0`);
    const vm = await t.compute.virtualMachines.createOrUpdate(RG, 'in-west', vmModel({ image: { id: versionId }, location: 'westeurope' }), FAST_POLL);
    expect(vm.storageProfile?.imageReference?.exactVersion).toBe('5.0.0');
    const notThere = await failure(t.compute.virtualMachines.createOrUpdate(RG, 'in-north', vmModel({ image: { id: versionId }, location: 'northeurope' }), FAST_POLL));
    expect(notThere).toMatchObject({ statusCode: 409 });

    expect(await failure(t.compute.galleryImages.delete(RG, 'gal', 'web', FAST_POLL))).toMatchObject({ code: 'CannotDeleteResource', statusCode: 409 });
    await t.compute.galleryImageVersions.delete(RG, 'gal', 'web', '5.0.0', FAST_POLL);
    expect(await failure(t.compute.galleryImageVersions.get(RG, 'gal', 'web', '5.0.0'))).toMatchObject({ statusCode: 404 });
  });
});
