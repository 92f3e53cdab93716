/**
 * Files uploaded for bakes (Packer scripts and files), content-addressed in their own container: stored once per
 * sha256, read by build VMs through a read-only SAS that lives only as long as the step that downloads it.
 */

import { createHash } from 'node:crypto';
import type { ContainerClient, UserDelegationKey } from '@azure/storage-blob';
import { UPLOADS_CONTAINER, uploadBlobName } from '../template/uploads.ts';
import type { AzureClients } from './clients.ts';
import { blobSasUrl } from './runCommandBlobs.ts';

/** The uploads container, created if missing (a caller opens it once and keeps it). */
export async function openUploadsContainer(clients: AzureClients): Promise<ContainerClient> {
  const container = clients.blobs.getContainerClient(UPLOADS_CONTAINER);
  await container.createIfNotExists();
  return container;
}

/**
 * Stores content under its sha256 in the uploads container (from openUploadsContainer) unless it is already there;
 * false when the bytes do not hash to `sha256`.
 */
export async function storeUpload(container: ContainerClient, sha256: string, bytes: Buffer): Promise<{ stored: boolean; created: boolean }> {
  if (createHash('sha256').update(bytes).digest('hex') !== sha256) return { stored: false, created: false };
  const blob = container.getBlockBlobClient(uploadBlobName(sha256));
  if (await blob.exists()) return { stored: true, created: false };
  try {
    // Only if still absent: of two same uploads at once, one creates the blob and the other finds it there.
    await blob.uploadData(bytes, { blobHTTPHeaders: { blobContentType: 'application/octet-stream' }, conditions: { ifNoneMatch: '*' } });
  } catch (error) {
    // Azure answers 409 BlobAlreadyExists, Azurite may answer 412 ConditionNotMet.
    const status = (error as { statusCode?: number }).statusCode;
    if (status === 409 || status === 412) return { stored: true, created: false };
    throw error;
  }
  return { stored: true, created: true };
}

/** A read-only SAS URI for an upload valid for `validForMs`, or undefined when nothing was uploaded under that sha256. */
export async function uploadReadUrl(clients: AzureClients, sha256: string, validForMs: number): Promise<string | undefined> {
  const name = uploadBlobName(sha256);
  if (!(await clients.blobs.getContainerClient(UPLOADS_CONTAINER).getBlobClient(name).exists())) return undefined;
  const startsOn = new Date(Date.now() - 5 * 60_000); // clock skew between this host and the storage service
  const expiresOn = new Date(Date.now() + validForMs);
  let key: Promise<UserDelegationKey> | undefined;
  return blobSasUrl(clients.blobs, UPLOADS_CONTAINER, name, 'r', expiresOn, () => (key ??= clients.blobs.getUserDelegationKey(startsOn, expiresOn)));
}
