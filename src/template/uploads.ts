/**
 * Kiln's uploaded files: a File customizer's `sourceUri` may be `kiln-upload://sha256/{hex}`, a file the CLI (or an
 * API caller) stored content-addressed in the uploads container. At bake time the build VM gets a short-lived
 * read-only SAS for it and checks the sha256 before the file takes its name.
 */

export const UPLOADS_CONTAINER = 'kiln-uploads';

const UPLOAD_URI = /^kiln-upload:\/\/sha256\/([0-9a-f]{64})$/;

export const UPLOAD_URI_EXPECTED = 'kiln-upload://sha256/{64 lowercase hex digits}';

/** The uploads-container URI of content with this sha256. */
export function uploadUri(sha256: string): string {
  return `kiln-upload://sha256/${sha256}`;
}

/** The sha256 an upload URI names, or undefined for any other URI. */
export function uploadDigest(uri: string): string | undefined {
  return UPLOAD_URI.exec(uri)?.[1];
}

/** The blob name of an upload in UPLOADS_CONTAINER. */
export function uploadBlobName(sha256: string): string {
  return `sha256/${sha256}`;
}
