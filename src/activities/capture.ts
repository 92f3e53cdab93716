/**
 * Step 7, capture: the generalized build VM becomes a gallery image version (source region only, hidden from
 * "latest" until promote), a managed image, or a VHD. What capture makes is the bake's product, so it has no undo;
 * the VM it came from goes with the staging group.
 */

import { getImageDefinition, imageVersionModel, startCreateImageVersion } from '../azure/galleries.ts';
import { managedImageModel, startCreateManagedImage } from '../azure/images.ts';
import { TAG_RUN_ID } from '../azure/resourceGroups.ts';
import { startVhdExport } from '../azure/vhd.ts';
import type { ReplicaRegion } from '../template/spec.ts';
import type { BeginCaptureInput, OperationStatus } from './contracts.ts';
import { activityEnvironment } from './environment.ts';
import { permanentError } from '../azure/errors.ts';
import { operationStatus, statusOf } from './outcomes.ts';
import { VHD_EXPORT } from './vhd-export.ts';

export async function beginCapture({ plan, spec, distribution }: BeginCaptureInput): Promise<OperationStatus> {
  return operationStatus(async () => {
    const { clients } = activityEnvironment();
    const d = plan.distributions[distribution];
    if (!d) throw permanentError(`capture: expected a distribution index below ${plan.distributions.length}, found ${distribution}`, { code: 'InvalidStep' });
    const tags = { ...(spec.distributions[d.index]?.artifactTags ?? {}), [TAG_RUN_ID]: plan.runId };
    switch (d.type) {
      case 'SharedImage': {
        const definition = await getImageDefinition(clients, d.galleryImageId);
        if (!definition) throw permanentError(`capture: gallery image definition ${d.galleryImageId} does not exist`, { code: 'NotFound', resourceId: d.galleryImageId });
        // The version lives where its gallery lives; its first replica is there, the rest come with replicate.
        const home = definition.location;
        const planned = d.regions.find((r) => sameRegion(r.name, home));
        const region: ReplicaRegion = planned ?? { name: home, replicaCount: 1, storageAccountType: d.regions[0]?.storageAccountType ?? 'Standard_LRS' };
        const model = imageVersionModel({ location: home, sourceVirtualMachineId: plan.staging.vmId, region, tags });
        return statusOf(await startCreateImageVersion(clients, d.imageVersionId, model));
      }
      case 'ManagedImage': {
        const model = managedImageModel({ location: d.location, sourceVirtualMachineId: plan.staging.vmId, hyperVGeneration: plan.build.hyperVGeneration, tags });
        return statusOf(await startCreateManagedImage(clients, d.imageId, model));
      }
      case 'VHD': {
        const handle = await startVhdExport(clients, { resourceGroup: plan.staging.resourceGroupName, vmName: plan.staging.vmName, targetUri: d.uri });
        return handle ? { state: 'InProgress', operation: { kind: VHD_EXPORT, resourceId: plan.staging.vmId, data: handle } } : { state: 'Succeeded' };
      }
    }
  });
}

function sameRegion(a: string, b: string): boolean {
  const norm = (s: string) => s.replaceAll(' ', '').toLowerCase();
  return norm(a) === norm(b);
}
