/**
 * Where disk access puts a disk's VHD: a container of the local storage emulator (Azurite), so that a SAS URL to it
 * can be the source of a server-side blob copy there, as a disk SAS is on Azure (Azurite copies only within itself).
 */
import { BlobSASPermissions, BlobServiceClient, generateBlobSASQueryParameters, StorageSharedKeyCredential } from '@azure/storage-blob';

export interface DiskAccessStore {
  /** Uploads the VHD file and returns a read SAS URL to it, valid for `seconds`. */
  publish(name: string, file: string, seconds: number): Promise<string>;
  /** Removes a published VHD (endGetAccess); nothing when it is gone. */
  revoke(name: string): Promise<void>;
}

const CONTAINER = 'emulator-disk-access';

/** A store in the account a connection string names (AccountName and AccountKey are needed to sign the SAS). */
export function createDiskAccessStore(connectionString: string): DiskAccessStore {
  const fields = new Map(connectionString.split(';').filter(Boolean).map((part) => {
    const at = part.indexOf('=');
    return [part.slice(0, at), part.slice(at + 1)] as const;
  }));
  const account = fields.get('AccountName');
  const key = fields.get('AccountKey');
  if (!account || !key) throw new Error('disk access storage: expected a connection string with AccountName and AccountKey');
  const credential = new StorageSharedKeyCredential(account, key);
  const container = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(CONTAINER);
  return {
    async publish(name, file, seconds) {
      await container.createIfNotExists();
      const blob = container.getBlockBlobClient(`${name}.vhd`);
      await blob.uploadFile(file);
      const sas = generateBlobSASQueryParameters({
        containerName: CONTAINER, blobName: `${name}.vhd`, permissions: BlobSASPermissions.parse('r'),
        startsOn: new Date(Date.now() - 60_000), expiresOn: new Date(Date.now() + seconds * 1000),
      }, credential);
      return `${blob.url}?${sas.toString()}`;
    },
    async revoke(name) {
      await container.getBlockBlobClient(`${name}.vhd`).deleteIfExists();
    },
  };
}
