/**
 * VHD output: the generalized VM's OS disk is exported through a read SAS (disk grantAccess) and copied by the
 * storage service into the target blob. The SAS is a credential: it is used inside the polling activity and never
 * returned; what travels between activities is the grant operation's poller state and names.
 */

import { BlobClient } from '@azure/storage-blob';
import type { AzureClients } from './clients.ts';
import { callAzure, KilnStepError, permanentError } from './errors.ts';
import { parseResourceId } from './ids.ts';
import { pollOperationHandle, startOperation, type OperationHandle } from './operations.ts';

/** The export's state between looks (JSON-safe, no secrets). */
export type VhdExportState = {
  diskResourceGroup: string;
  disk: string;
  diskId: string;
  targetUri: string;
} & (
  /** Waiting for the grantAccess operation (its result is the SAS), then copying. */
  { phase: 'grant'; grant: OperationHandle } | { phase: 'copy' }
);

/** Blob metadata naming the disk a copy came from (each bake's staging disk has its own id). */
const SOURCE_DISK_METADATA = 'kilnsourcedisk';

/** How long the disk's read SAS lives: a 30 GB copy inside one region takes minutes; replication is not involved. */
const SAS_SECONDS = 4 * 3600;

/**
 * The target blob, and for a target in Kiln's own account its container (created if missing). Kiln's account is
 * its endpoint, or its name on the public blob endpoint (`https://{account}.blob.core.windows.net/`, as a Packer
 * storage_account converts), so that name reaches Kiln's storage wherever it runs (Azurite on the local default).
 */
function targetBlob(clients: AzureClients, uri: string): { blob: BlobClient; ownContainer?: string } {
  const bases = [clients.blobs.url.replace(/\/+$/, ''), `https://${clients.blobs.accountName}.blob.core.windows.net`];
  const base = bases.find((b) => uri.startsWith(`${b}/`));
  if (base) {
    const [container, ...rest] = uri.slice(base.length + 1).split('?')[0]!.split('/');
    return { blob: clients.blobs.getContainerClient(container!).getBlobClient(decodeURIComponent(rest.join('/'))), ownContainer: container! };
  }
  // A URI outside Kiln's account carries its own SAS.
  return { blob: new BlobClient(uri) };
}

/** Starts the export; undefined when the target blob is already a complete copy. */
export async function startVhdExport(
  clients: AzureClients,
  o: { resourceGroup: string; vmName: string; targetUri: string },
): Promise<VhdExportState | undefined> {
  const { blob, ownContainer } = targetBlob(clients, o.targetUri);
  if (ownContainer) await clients.blobs.getContainerClient(ownContainer).createIfNotExists();
  const vm = await callAzure('read virtual machine', o.vmName, () => clients.compute.virtualMachines.get(o.resourceGroup, o.vmName));
  const diskId = vm.storageProfile?.osDisk?.managedDisk?.id;
  if (!diskId) throw permanentError(`VHD capture: VM ${vm.id ?? o.vmName} has no managed OS disk`, { code: 'NoManagedDisk', resourceId: vm.id });
  const existing = await blob.getProperties().catch((err: { statusCode?: number }) => {
    if (err.statusCode === 404) return undefined;
    throw err;
  });
  // Done only if the complete copy is of this bake's disk: an earlier bake's VHD at a fixed uri is replaced, not kept.
  if (existing?.copyStatus === 'success' && existing.metadata?.[SOURCE_DISK_METADATA] === diskId) return undefined;
  const disk = parseResourceId(diskId);
  const diskName = disk.segments.at(-1)![1];
  const grant = await startOperation(
    () => clients.compute.disks.grantAccess(disk.resourceGroup, diskName, { access: 'Read', durationInSeconds: SAS_SECONDS }),
    { action: 'grant read access to disk', resourceId: diskId, api: 'compute' },
  );
  if (!grant) throw permanentError(`VHD capture: grant access to ${diskId} returned no operation to read the SAS from`, { code: 'NoAccessUri', resourceId: diskId });
  return { diskResourceGroup: disk.resourceGroup, disk: diskName, diskId, targetUri: o.targetUri, phase: 'grant', grant };
}

export type VhdExportStatus = { done: false; state: VhdExportState; percent?: number } | { done: true };

/** One look: once access is granted the copy starts; once the copy succeeds the disk's access is revoked. */
export async function pollVhdExport(clients: AzureClients, state: VhdExportState): Promise<VhdExportStatus> {
  const { blob } = targetBlob(clients, state.targetUri);
  if (state.phase === 'grant') {
    const status = await pollOperationHandle(clients, state.grant);
    if (!status.done) return { done: false, state };
    const sas = (status.result as { accessSAS?: string } | undefined)?.accessSAS;
    if (!sas) throw permanentError(`VHD capture: grant access to ${state.diskId} returned no SAS`, { code: 'NoAccessUri', resourceId: state.diskId });
    // Only the copy's start is awaited; later looks read the blob's copy status.
    await callAzure('start copy to', state.targetUri.split('?')[0]!, () => blob.beginCopyFromURL(sas, { metadata: { [SOURCE_DISK_METADATA]: state.diskId } }));
    const { grant: _grant, ...names } = state;
    return { done: false, state: { ...names, phase: 'copy' } };
  }
  const props = await callAzure('read copy status of', state.targetUri.split('?')[0]!, () => blob.getProperties());
  if (props.copyStatus === 'pending') {
    const [copied, total] = (props.copyProgress ?? '0/1').split('/').map(Number);
    return { done: false, state, percent: total ? Math.floor((100 * (copied ?? 0)) / total) : 0 };
  }
  if (props.copyStatus !== 'success') {
    throw new KilnStepError(`VHD capture: copy of ${state.diskId} to ${state.targetUri.split('?')[0]} ended ${props.copyStatus}: ${props.copyStatusDescription ?? ''}`, {
      retryable: true,
      operationFailed: true,
      code: 'CopyFailed',
      resourceId: state.diskId,
    });
  }
  // The disk goes with the staging group; revoking now just shortens the SAS's useful life.
  await startOperation(() => clients.compute.disks.revokeAccess(state.diskResourceGroup, state.disk), {
    action: 'revoke access to disk',
    resourceId: state.diskId,
    api: 'compute',
  });
  return { done: true };
}
