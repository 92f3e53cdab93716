/**
 * Step 7, capture: the generalized build VM becomes a gallery image version (source region only, hidden from
 * "latest" until promote), a managed image, or a VHD. What capture makes is the bake's product, so it has no undo;
 * the VM it came from goes with the staging group.
 *
 * Gallery versions and managed images are watched by their provisioningState rather than by the create's LRO, so a
 * repeated or re-begun capture always does the right thing: present and Succeeded is done, Creating is waited for,
 * absent is created, and a Failed leftover (immutable, as on Azure) is deleted before it is created again.
 */

import type { GalleryImageVersion, Image } from '@azure/arm-compute';
import type { AzureClients } from '../azure/clients.ts';
import { callAzure, permanentError } from '../azure/errors.ts';
import { getImageDefinition, getImageVersion, imageVersionModel, regionReplication, startCreateImageVersion, startDeleteImageVersion } from '../azure/galleries.ts';
import { getManagedImage, managedImageModel, startCreateManagedImage, startDeleteManagedImage } from '../azure/images.ts';
import { sameRegion } from '../azure/regions.ts';
import { TAG_RUN_ID } from '../azure/resourceGroups.ts';
import { startVhdExport } from '../azure/vhd.ts';
import type { ReplicaRegion } from '../template/spec.ts';
import type { BeginCaptureInput, OperationStatus } from './contracts.ts';
import { activityEnvironment } from './environment.ts';
import { operationStatus } from './outcomes.ts';
import type { Pollers } from './poll.ts';
import { vhdExportRef } from './vhd-export.ts';

export const CAPTURE = 'capture';

/**
 * A gallery version or managed image being captured: the model to create it from, and whether this capture sent
 * the create (`created`).
 */
export type CaptureRef = { kind: typeof CAPTURE; resourceId: string; created: boolean } & (
  | { target: 'galleryImageVersion'; model: GalleryImageVersion }
  | { target: 'managedImage'; model: Image }
);

export async function beginCapture({ plan, spec, distribution }: BeginCaptureInput): Promise<OperationStatus> {
  return operationStatus(async () => {
    const { clients } = activityEnvironment();
    const d = plan.distributions[distribution];
    if (!d) throw permanentError(`capture: expected a distribution index below ${plan.distributions.length}, found ${distribution}`, { code: 'InvalidStep' });
    // As AIB does: the template's tags, then the distribution's artifactTags, go on the image it makes.
    const tags = { ...spec.tags, ...(spec.distributions[d.index]?.artifactTags ?? {}), [TAG_RUN_ID]: plan.runId };
    switch (d.type) {
      case 'SharedImage': {
        // The version (an earlier attempt's) is read alongside its definition: one round trip before the create, not two.
        const versionRead = getImageVersion(clients, d.imageVersionId, { replicationStatus: true });
        versionRead.catch(() => undefined);
        const definition = await getImageDefinition(clients, d.galleryImageId);
        if (!definition) throw permanentError(`capture: gallery image definition ${d.galleryImageId} does not exist`, { code: 'NotFound', resourceId: d.galleryImageId });
        // The version lives where its gallery lives; its first replica is there, the rest come with replicate.
        const home = definition.location;
        const planned = d.regions.find((r) => sameRegion(r.name, home));
        const region: ReplicaRegion = planned ?? { name: home, replicaCount: 1, storageAccountType: d.regions[0]?.storageAccountType ?? 'Standard_LRS' };
        const model = imageVersionModel({ location: home, sourceVirtualMachineId: plan.staging.vmId, region, tags });
        const ref: CaptureRef = { kind: CAPTURE, resourceId: d.imageVersionId, target: 'galleryImageVersion', model, created: false };
        return advanceCapture(clients, ref, versionState(await versionRead, ref));
      }
      case 'ManagedImage': {
        // The VM knows its generation (a marketplace source does not say it in the template); the plan's is the fallback.
        const view = await callAzure('read instance view of', plan.staging.vmId, () => clients.compute.virtualMachines.instanceView(plan.staging.resourceGroupName, plan.staging.vmName));
        const hyperVGeneration = view.hyperVGeneration === 'V1' || view.hyperVGeneration === 'V2' ? view.hyperVGeneration : plan.build.hyperVGeneration;
        const model = managedImageModel({ location: d.location, sourceVirtualMachineId: plan.staging.vmId, hyperVGeneration, tags });
        return advanceCapture(clients, { kind: CAPTURE, resourceId: d.imageId, target: 'managedImage', model, created: false });
      }
      case 'VHD': {
        const handle = await startVhdExport(clients, { resourceGroup: plan.staging.resourceGroupName, vmName: plan.staging.vmName, targetUri: d.uri });
        return handle ? { state: 'InProgress', operation: vhdExportRef(plan.staging.vmId, handle) } : { state: 'Succeeded' };
      }
    }
  });
}

/** A capture target's provisioningState (undefined: none yet) and, for a gallery version, its first replica's percent. */
type CaptureState = { state: string | undefined; percent?: number };

/** The target's provisioningState and, for a gallery version, how far its first replica is (the poller's estimate of the end). */
async function provisioningState(clients: AzureClients, ref: CaptureRef): Promise<CaptureState> {
  if (ref.target === 'managedImage') {
    const image = await getManagedImage(clients, ref.resourceId);
    return { state: image && (image.provisioningState ?? 'Succeeded') };
  }
  return versionState(await getImageVersion(clients, ref.resourceId, { replicationStatus: true }), ref);
}

function versionState(version: Awaited<ReturnType<typeof getImageVersion>>, ref: CaptureRef): CaptureState {
  if (!version) return { state: undefined };
  const state = version.provisioningState ?? 'Succeeded';
  const replica = state === 'Creating' && ref.model.location ? regionReplication(version, ref.model.location) : undefined;
  return { state, ...(replica?.state === 'Replicating' ? { percent: replica.percent } : {}) };
}

/**
 * One step of the capture: looks at the target and moves it on. `created` records that this capture sent the
 * create, so a Failed state afterwards is this attempt failing (retryable: the next begin deletes and recreates).
 */
export async function advanceCapture(clients: AzureClients, ref: CaptureRef, known?: CaptureState): Promise<OperationStatus> {
  const id = ref.resourceId;
  const { state, percent } = known ?? (await provisioningState(clients, ref));
  const waiting = (created: boolean): OperationStatus => ({ state: 'InProgress', operation: { ...ref, created }, ...(percent !== undefined ? { percent } : {}) });
  switch (state) {
    case 'Succeeded':
      return { state: 'Succeeded' };
    case undefined: {
      if (ref.target === 'galleryImageVersion') await startCreateImageVersion(clients, id, ref.model);
      else await startCreateManagedImage(clients, id, ref.model);
      return waiting(true);
    }
    case 'Failed':
      if (ref.created) {
        return { state: 'Failed', error: { code: 'ProvisioningFailed', message: `capture: ${id} ended with provisioningState Failed`, retryable: true, resourceId: id } };
      }
      if (ref.target === 'galleryImageVersion') await startDeleteImageVersion(clients, id);
      else await startDeleteManagedImage(clients, id);
      return waiting(false);
    default:
      // Creating, Updating, Deleting, Migrating: look again later.
      return waiting(ref.created);
  }
}

export const capturePollers: Pollers<typeof CAPTURE> = {
  [CAPTURE]: (env, ref) => advanceCapture(env.clients, ref),
};
