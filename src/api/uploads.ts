/** HTTP handler for /uploads/{sha256}: stores a file a template's File step names by its content hash (kiln-upload://). */

import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { openUploadsContainer, storeUpload } from '../azure/uploads.ts';
import { uploadUri } from '../template/uploads.ts';
import { readBoundedBody } from './body-limit.ts';
import { openOnce } from '../open-once.ts';
import { json, problem } from './problem.ts';
import { services } from './services.ts';

/** An uploaded script or file above this size is refused (the Functions host caps request bodies at 100 MB). */
export const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;

/** The uploads container, opened (created if missing) once per process; after a failure the next upload tries again. */
const uploadsContainer = openOnce(async () => openUploadsContainer((await services()).azure));

/**
 * PUT /uploads/{sha256} — the body's bytes, stored once under their sha256 (201 when new, 200 when already there);
 * a body that does not hash to the name is refused, so a template's upload URI always means these exact bytes.
 * A body above MAX_UPLOAD_BYTES is refused (413) by its Content-Length before it is read, or once that much was read.
 */
export async function putUpload(request: HttpRequest): Promise<HttpResponseInit> {
  const sha256 = request.params.sha256 ?? '';
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    return problem(400, 'invalid-upload', 'the upload name must be the content\'s sha256', {
      errors: [{ path: 'sha256', message: 'must be a sha256', expected: '64 lowercase hexadecimal digits', found: JSON.stringify(sha256) }],
    });
  }
  const body = await readBoundedBody(request, { bytes: MAX_UPLOAD_BYTES, what: 'the upload', shown: '64 MiB' });
  if (!body.ok) return body.response;
  const { bytes } = body;
  const result = await storeUpload(await uploadsContainer(), sha256, bytes);
  if (!result.stored) return problem(400, 'checksum-mismatch', `the body (${bytes.length} bytes) does not hash to ${sha256}`);
  return json(result.created ? 201 : 200, { sha256, uri: uploadUri(sha256), bytes: bytes.length });
}
