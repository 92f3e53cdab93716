import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type Azurite } from '../../local/azurite.ts';
import { POISON_CONTAINER } from '../../local/host/blob-triggers.ts';
import { startLocalHost, type LocalHost } from '../../local/host/index.ts';
import { recordedCalls } from '../fixtures/host-apps/calls.ts';

const fixtures = join(import.meta.dirname, '../fixtures/host-apps');
const home = mkdtempSync(join(tmpdir(), 'kiln-host-blob-'));
let azurite: Azurite;
let host: LocalHost;
let service: BlobServiceClient;
const logs: string[] = [];

async function start(): Promise<LocalHost> {
  return startLocalHost({
    appEntry: join(fixtures, 'blob-app.ts'),
    home: join(home, 'host'),
    port: 0,
    settings: { AzureWebJobsStorage: azurite.connectionString, KILN_LOCAL_BLOB_POLL_MS: '100', HOST_TEST_HUB: 'blobhub' },
    hostJsonPath: join(fixtures, 'host.json'),
    log: (line) => logs.push(line),
  });
}

async function upload(container: string, name: string, text: string): Promise<string> {
  const client = service.getContainerClient(container);
  await client.createIfNotExists();
  const result = await client.getBlockBlobClient(name).upload(text, Buffer.byteLength(text));
  return result.etag!;
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

beforeAll(async () => {
  azurite = await startAzurite({ home });
  service = BlobServiceClient.fromConnectionString(azurite.connectionString);
  host = await start();
});

afterAll(async () => {
  await host?.close();
  await azurite?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('local host blob triggers', () => {
  it('fires for a new blob by polling, with {name} and the blob properties in triggerMetadata', async () => {
    const etag = await upload('templates', 'ubuntu-web.json', JSON.stringify({ image: 'ubuntu' }));
    await waitFor(() => recordedCalls('onTemplate').length === 1, 'the first blob trigger');
    const [call] = recordedCalls('onTemplate');
    expect(call!.input).toEqual({ image: 'ubuntu' });
    expect(call!.triggerMetadata).toMatchObject({
      name: 'ubuntu-web',
      blobTrigger: 'templates/ubuntu-web.json',
      properties: { eTag: etag, contentLength: 18 },
    });
    expect(call!.triggerMetadata!.uri).toMatch(/\/templates\/ubuntu-web\.json$/);
  });

  it('fires each blob version once, also across a restart', async () => {
    await host.pollBlobs();
    await host.pollBlobs();
    expect(recordedCalls('onTemplate')).toHaveLength(1);

    await upload('templates', 'ubuntu-web.json', JSON.stringify({ image: 'ubuntu', version: 2 }));
    await host.pollBlobs();
    expect(recordedCalls('onTemplate').map((c) => c.input)).toEqual([{ image: 'ubuntu' }, { image: 'ubuntu', version: 2 }]);

    await host.close();
    host = await start();
    await host.pollBlobs();
    expect(recordedCalls('onTemplate')).toHaveLength(2);
  });

  it('ignores blobs that do not match the path pattern', async () => {
    await upload('templates', 'readme.txt', 'not a template');
    await host.pollBlobs();
    expect(recordedCalls('onTemplate')).toHaveLength(2);
  });

  it('polls an Event Grid-sourced trigger all the same and binds several placeholders', async () => {
    await upload('uploads', 'batch-7/data.bin', 'payload');
    await host.pollBlobs();
    expect(recordedCalls('onUpload')).toHaveLength(1);
    expect(recordedCalls('onUpload')[0]).toMatchObject({
      input: 'payload',
      triggerMetadata: { folder: 'batch-7', file: 'data.bin', blobTrigger: 'uploads/batch-7/data.bin' },
    });
  });

  it('retries a non-JSON blob 5 times, then poisons it, and keeps serving other blobs', async () => {
    const etag = await upload('templates', 'broken.json', 'this is { not json');
    const attempts = () => logs.filter((line) => line.includes('templates/broken.json failed')).length;
    await waitFor(() => attempts() >= 5, 'five failed attempts');
    await host.pollBlobs();
    await host.pollBlobs();
    expect(attempts()).toBe(5);
    expect(logs.find((line) => line.includes('attempt 5 of 5'))).toMatch(/JSON/);

    const poisoned: string[] = [];
    for await (const blob of service.getContainerClient(POISON_CONTAINER).listBlobsFlat()) poisoned.push(blob.name);
    expect(poisoned).toHaveLength(1);
    const message = JSON.parse(
      (await service.getContainerClient(POISON_CONTAINER).getBlobClient(poisoned[0]!).downloadToBuffer()).toString('utf8'),
    );
    expect(message).toMatchObject({
      Type: 'BlobTrigger',
      FunctionId: 'Host.Functions.onTemplate',
      ContainerName: 'templates',
      BlobName: 'broken.json',
      ETag: etag,
      Attempts: 5,
    });
    expect(message.LastError).toMatch(/JSON/);

    // Poisoned stays poisoned after a restart; a good blob still fires.
    await host.close();
    host = await start();
    await upload('templates', 'ubuntu-app.json', JSON.stringify({ image: 'app' }));
    await host.pollBlobs();
    expect(attempts()).toBe(5);
    expect(recordedCalls('onTemplate').at(-1)!.input).toEqual({ image: 'app' });
  });
});
