/** Turns a File step's Kiln upload URI into a short-lived read-only SAS URI, just before its Run Command starts. */

import type { AzureClients } from '../azure/clients.ts';
import { permanentError } from '../azure/errors.ts';
import { uploadReadUrl } from '../azure/uploads.ts';
import type { Customizer, InVMValidation } from '../template/spec.ts';
import { UPLOADS_CONTAINER, uploadBlobName, uploadDigest } from '../template/uploads.ts';

/** The step as the VM runs it: an uploaded file's URI replaced by a SAS valid for `validForMs`, its sha256 always checked. */
export async function withUploadUrls(clients: AzureClients, step: Customizer | InVMValidation, validForMs: number): Promise<Customizer | InVMValidation> {
  if (step.type !== 'File') return step;
  const digest = uploadDigest(step.sourceUri);
  if (!digest) return step;
  const url = await uploadReadUrl(clients, digest, validForMs);
  if (!url) {
    throw permanentError(
      `File step "${step.name}": nothing is uploaded as ${uploadBlobName(digest)} in container ${UPLOADS_CONTAINER}; bake with the kiln CLI (it uploads local files) or PUT /api/uploads/${digest} first`,
      { code: 'UploadMissing' },
    );
  }
  return { ...step, sourceUri: url, sha256Checksum: step.sha256Checksum ?? digest };
}
