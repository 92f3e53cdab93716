/**
 * The local default's Azurite acknowledges a write only once it is on disk: each write is followed at once by a
 * kill -9 of Azurite, and the restarted Azurite on the same location still has every one of them.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, describe, expect, it } from 'vitest';
import { startAzurite, type Azurite } from '../../local/azurite.ts';

let location: string;
let azurite: Azurite | undefined;

afterAll(async () => {
  await azurite?.close();
  if (location) await rm(location, { recursive: true, force: true });
});

/** kill -9 of the running Azurite (its pid file), then a new one on the same data and port. */
async function crashAndRestart(port: number): Promise<Azurite> {
  const pid = Number(readFileSync(join(location, 'azurite.pid'), 'utf8'));
  process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 10));
  return startAzurite({ location, port });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('Azurite: an acknowledged write survives kill -9', () => {
  it('keeps containers, block blobs, metadata, overwrites, append blocks and deletes written just before the kill', async () => {
    location = await mkdtemp(join(tmpdir(), 'kiln-azurite-durable-'));
    azurite = await startAzurite({ location });
    const port = azurite.port;
    const rounds = 4;
    for (let round = 0; round < rounds; round++) {
      const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
      const container = service.getContainerClient('runs');
      await container.createIfNotExists();
      const body = JSON.stringify({ round });
      await container.getBlockBlobClient(`r${round}/record.json`).upload(body, body.length, { metadata: { status: `s${round}` } });
      await container.getBlockBlobClient('latest.json').upload(body, body.length);
      const log = container.getAppendBlobClient('log.txt');
      await log.createIfNotExists();
      await log.appendBlock(`line ${round}\n`, `line ${round}\n`.length);
      if (round > 0) await container.getBlockBlobClient(`r${round - 1}/gone.json`).delete();
      await container.getBlockBlobClient(`r${round}/gone.json`).upload('x', 1);
      azurite = await crashAndRestart(port);
    }
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('runs');
    for (let round = 0; round < rounds; round++) {
      const record = container.getBlockBlobClient(`r${round}/record.json`);
      expect(JSON.parse((await record.downloadToBuffer()).toString())).toEqual({ round });
      expect((await record.getProperties()).metadata).toEqual({ status: `s${round}` });
    }
    expect(JSON.parse((await container.getBlockBlobClient('latest.json').downloadToBuffer()).toString())).toEqual({ round: rounds - 1 });
    expect((await container.getAppendBlobClient('log.txt').downloadToBuffer()).toString())
      .toBe(Array.from({ length: rounds }, (_, i) => `line ${i}\n`).join(''));
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat({ prefix: 'r' })) if (blob.name.endsWith('gone.json')) names.push(blob.name);
    expect(names).toEqual([`r${rounds - 1}/gone.json`]);
  });
});
