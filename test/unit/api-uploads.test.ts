/**
 * PUT /uploads/{sha256}: refusals decided before storage (the name, and the size by Content-Length or by what was
 * read), and the uploads container opened once per process, against a fake of the blob service.
 */

import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { MAX_UPLOAD_BYTES, putUpload } from '../../src/api/uploads.ts';
import { streamingRequest } from '../fixtures/streaming-request.ts';

const storage = vi.hoisted(() => ({ creates: 0, failNextCreate: false, blobs: new Map<string, Uint8Array>() }));

vi.mock('../../src/api/services.ts', () => ({
  services: async () => ({
    azure: {
      blobs: {
        getContainerClient: () => ({
          async createIfNotExists() {
            storage.creates++;
            if (!storage.failNextCreate) return {};
            storage.failNextCreate = false;
            throw Object.assign(new Error('The server is currently unable to receive requests.'), { statusCode: 503 });
          },
          getBlockBlobClient: (name: string) => ({
            exists: async () => storage.blobs.has(name),
            uploadData: async (bytes: Uint8Array) => void storage.blobs.set(name, bytes),
          }),
        }),
      },
    },
  }),
}));

const SHA = 'a'.repeat(64);
const MIB = 1024 * 1024;

function streamingUpload(sha256: string, chunks: number, headers: Record<string, string> = {}) {
  return streamingRequest({ chunks, chunkBytes: MIB, headers, params: { sha256 } });
}

async function problemOf(response: Awaited<ReturnType<typeof putUpload>>): Promise<Record<string, unknown>> {
  expect(response.headers).toMatchObject({ 'content-type': 'application/problem+json' });
  return JSON.parse(String(response.body)) as Record<string, unknown>;
}

describe('PUT /uploads/{sha256} refusals', () => {
  it('refuses a body whose Content-Length is above the limit without reading any of it', async () => {
    const { request, counter } = streamingUpload(SHA, 70, { 'content-length': String(70 * MIB) });
    const response = await putUpload(request);
    expect(response.status).toBe(413);
    expect(await problemOf(response)).toMatchObject({ status: 413, type: 'urn:kiln:problem:body-too-large', detail: `the upload's Content-Length is ${70 * MIB} bytes; expected at most ${MAX_UPLOAD_BYTES} (64 MiB)` });
    expect(counter.pulled).toBe(0);
  });

  it('stops reading a body without a Content-Length once it passes the limit', async () => {
    const { request, counter } = streamingUpload(SHA, 200);
    const response = await putUpload(request);
    expect(response.status).toBe(413);
    expect((await problemOf(response)).detail).toBe(`the upload has more than ${MAX_UPLOAD_BYTES} bytes; expected at most ${MAX_UPLOAD_BYTES} (64 MiB)`);
    // The limit is 64 chunks: the 65th passes it, and the other 135 are never made.
    expect(counter.pulled).toBe(65);
  });

  it('refuses a name that is not a sha256, saying what it expected and found', async () => {
    for (const name of ['abc', SHA.toUpperCase(), `${SHA}0`, 'g'.repeat(64)]) {
      const { request, counter } = streamingUpload(name, 1);
      const response = await putUpload(request);
      expect(response.status, name).toBe(400);
      expect(await problemOf(response)).toMatchObject({ errors: [{ path: 'sha256', expected: '64 lowercase hexadecimal digits', found: JSON.stringify(name) }] });
      expect(counter.pulled).toBe(0);
    }
  });
});

describe('PUT /uploads/{sha256} storing', () => {
  const upload = (fill: number) => {
    const sha256 = createHash('sha256').update(new Uint8Array(16).fill(fill)).digest('hex');
    return putUpload(streamingRequest({ chunks: 1, chunkBytes: 16, fill, params: { sha256 } }).request);
  };

  it('opens the uploads container once per process, and again on the next upload after a failed open', async () => {
    storage.failNextCreate = true;
    await expect(upload(1)).rejects.toMatchObject({ statusCode: 503 });
    expect(storage.creates).toBe(1);
    expect((await upload(1)).status).toBe(201);
    expect(storage.creates).toBe(2);
    expect((await upload(2)).status).toBe(201);
    expect((await upload(1)).status).toBe(200);
    expect(storage.creates).toBe(2);
    expect(storage.blobs.size).toBe(2);
  });
});
