/**
 * The append blobs a Run Command writes its full stdout/stderr to, and the SAS URIs it writes them with.
 * On Azure the SAS is a user delegation SAS (the Function App's identity, no account key anywhere); with a
 * connection string (Azurite locally) it is a service SAS signed with the account key in that string. The blobs
 * may hold unmasked output, so they live in their own container and are deleted once read.
 */

import type { BlobClient, BlobServiceClient, UserDelegationKey } from '@azure/storage-blob';
import { BlobSASPermissions, StorageSharedKeyCredential } from '@azure/storage-blob';
import type { AzureClients } from './clients.ts';

export const RUN_COMMAND_OUTPUT_CONTAINER = 'run-command-output';

export interface RunCommandBlobUris {
  outputBlobUri: string;
  errorBlobUri: string;
}

function blobNames(runId: string, name: string): { output: string; error: string } {
  return { output: `${runId}/${name}.stdout`, error: `${runId}/${name}.stderr` };
}

/** A SAS URI for one blob: user delegation on Azure, the account key with a connection string (Azurite). */
export async function blobSasUrl(
  blobs: BlobServiceClient, container: string, blobName: string, permissions: string, expiresOn: Date, key: () => Promise<UserDelegationKey>,
): Promise<string> {
  const blob = blobs.getContainerClient(container).getBlobClient(blobName);
  const options = { permissions: BlobSASPermissions.parse(permissions), expiresOn };
  // A client built from a connection string holds the account key; an identity-based one needs a delegation key.
  return blobs.credential instanceof StorageSharedKeyCredential
    ? blob.generateSasUrl(options)
    : blob.generateUserDelegationSasUrl(options, await key());
}

/** Creates empty append blobs for one Run Command and returns write SAS URIs valid for `validForMs`. */
export async function prepareRunCommandBlobs(clients: AzureClients, runId: string, name: string, validForMs: number): Promise<RunCommandBlobUris> {
  const container = clients.blobs.getContainerClient(RUN_COMMAND_OUTPUT_CONTAINER);
  const names = blobNames(runId, name);
  const createBlobs = () =>
    Promise.all([container.getAppendBlobClient(names.output).createIfNotExists(), container.getAppendBlobClient(names.error).createIfNotExists()]);
  // The container exists but for a service's first Run Command: made only when the blobs say it is missing (one
  // round trip fewer on every step of a bake's critical path).
  await createBlobs().catch(async (error: unknown) => {
    if ((error as { details?: { errorCode?: string } }).details?.errorCode !== 'ContainerNotFound') throw error;
    await container.createIfNotExists();
    await createBlobs();
  });
  const startsOn = new Date(Date.now() - 5 * 60_000); // clock skew between this host and the storage service
  const expiresOn = new Date(Date.now() + validForMs);
  let delegationKey: Promise<UserDelegationKey> | undefined;
  const key = () => (delegationKey ??= clients.blobs.getUserDelegationKey(startsOn, expiresOn));
  const [outputBlobUri, errorBlobUri] = await Promise.all([
    blobSasUrl(clients.blobs, RUN_COMMAND_OUTPUT_CONTAINER, names.output, 'racw', expiresOn, key),
    blobSasUrl(clients.blobs, RUN_COMMAND_OUTPUT_CONTAINER, names.error, 'racw', expiresOn, key),
  ]);
  return { outputBlobUri, errorBlobUri };
}

/**
 * The blob's bytes from `offset` on, in one request (downloadToBuffer asks for the size first): undefined when there
 * is no blob, empty when the offset is at or past its end (416).
 */
async function downloadFrom(blob: BlobClient, offset = 0): Promise<Buffer | undefined> {
  try {
    const response = await blob.download(offset);
    const chunks: Buffer[] = [];
    for await (const chunk of response.readableStreamBody ?? []) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
    return Buffer.concat(chunks);
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 404) return undefined;
    if (status === 416) return Buffer.alloc(0);
    throw err;
  }
}

async function readBytes(clients: AzureClients, blobName: string): Promise<Buffer | undefined> {
  return downloadFrom(clients.blobs.getContainerClient(RUN_COMMAND_OUTPUT_CONTAINER).getBlobClient(blobName));
}

/** The bytes of a Run Command's stdout or stderr blob from `offset` on (empty when there are none yet or no blob). */
export async function readRunCommandBlobFrom(clients: AzureClients, runId: string, name: string, stream: 'stdout' | 'stderr', offset: number): Promise<Buffer> {
  const names = blobNames(runId, name);
  const blob = clients.blobs.getContainerClient(RUN_COMMAND_OUTPUT_CONTAINER).getBlobClient(stream === 'stdout' ? names.output : names.error);
  return (await downloadFrom(blob, offset)) ?? Buffer.alloc(0);
}

/** The full stdout and stderr, as bytes (undefined where no blob was written). */
export async function readRunCommandBlobs(clients: AzureClients, runId: string, name: string): Promise<{ output?: Buffer; error?: Buffer }> {
  const names = blobNames(runId, name);
  const [output, error] = await Promise.all([readBytes(clients, names.output), readBytes(clients, names.error)]);
  return { output, error };
}

export async function deleteRunCommandBlobs(clients: AzureClients, runId: string, name?: string): Promise<void> {
  const container = clients.blobs.getContainerClient(RUN_COMMAND_OUTPUT_CONTAINER);
  const gone = (err: { statusCode?: number }) => {
    if (err.statusCode !== 404) throw err;
  };
  if (name) {
    // One run command's two blobs, by name, at once: no listing (this is between two steps of a bake).
    const names = blobNames(runId, name);
    await Promise.all([names.output, names.error].map((blob) => container.deleteBlob(blob, { deleteSnapshots: 'include' }).then(() => undefined, gone)));
    return;
  }
  if (!(await container.exists())) return;
  const prefix = name ? `${runId}/${name}.` : `${runId}/`;
  for await (const item of container.listBlobsFlat({ prefix })) {
    await container.deleteBlob(item.name, { deleteSnapshots: 'include' }).catch(gone);
  }
}
