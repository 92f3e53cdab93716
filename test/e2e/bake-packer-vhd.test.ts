/**
 * Packer templates with a VHD output baked with `kiln bake FILE` on the local default: a JSON template with a managed
 * image and a VHD, and an HCL2 template with a VHD only. Each VHD is a fixed VHD in Azurite (Kiln's storage account,
 * devstoreaccount1, which the templates name) at the container and prefix the template gives, holding the customizer's file.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalDefault, type LocalDefault } from '../../local/default.ts';
import type { RunRecord } from '../../src/runs/record.ts';
import { readVhdFooter } from '../support/vhd.ts';
import { azureClients } from './bake-support.ts';
import { describeRun, runKiln } from './triggers-support.ts';

const SUBSCRIPTION = '00000000-0000-0000-0000-000000000000';
let home: string;
let local: LocalDefault;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'kiln-packer-vhd-'));
  local = await startLocalDefault({ home, functionsPort: 0, armPort: 0, keyVaultPort: 0, blobPort: 0, profile: 'zero' });
}, 60_000);

afterAll(async () => {
  await local?.close();
  await rm(home, { recursive: true, force: true });
});

/** `kiln bake FILE` on the running local default of `home`. */
async function bakeWithCli(file: string): Promise<RunRecord> {
  const { code, stdout, stderr } = await runKiln(['bake', file, '--json', '--home', home]);
  const record = JSON.parse(stdout) as RunRecord;
  expect(record.status, `${describeRun(record)}\n${stderr.slice(-3000)}`).toBe('Succeeded');
  expect(code).toBe(0);
  return record;
}

/** The VHD a Packer-named uri points at, read from Kiln's storage (Azurite): container and blob path as the uri names them. */
async function vhdAt(uri: string, container: string, blobPattern: RegExp): Promise<Buffer> {
  const url = new URL(uri);
  expect(url.host).toBe('devstoreaccount1.blob.core.windows.net');
  const [named, ...path] = url.pathname.split('/').filter(Boolean);
  expect(named).toBe(container);
  expect(path.join('/')).toMatch(blobPattern);
  const blobs = BlobServiceClient.fromConnectionString(local.blobConnectionString);
  const listed = [];
  for await (const blob of blobs.getContainerClient(container).listBlobsFlat()) listed.push(blob.name);
  expect(listed).toEqual([path.join('/')]);
  return blobs.getContainerClient(container).getBlobClient(path.join('/')).downloadToBuffer();
}

function expectFixedVhdHolding(vhd: Buffer, text: string): void {
  expect(readVhdFooter(vhd)).toEqual({ cookie: 'conectix', diskType: 2, currentSize: vhd.length - 512 });
  expect((vhd.length - 512) % (1024 * 1024)).toBe(0);
  expect(vhd.includes(Buffer.from(text))).toBe(true);
}

describe('Packer VHD outputs baked with kiln bake', () => {
  it('bakes a managed image and a VHD from one JSON template, and a VHD alone from HCL2; each VHD is where the mapping says', async () => {
    const both = (await bakeWithCli('test/fixtures/packer/vhd-and-image.json')).outputs.artifacts ?? {};
    const imageId = `/subscriptions/${SUBSCRIPTION}/resourceGroups/kiln-images/providers/Microsoft.Compute/images/vhd-twin`;
    expect(Object.keys(both).sort()).toEqual(['vhd-twin', 'web-vhd']);
    expect(both['vhd-twin']).toBe(imageId);
    expect((await azureClients(local).compute.images.get('kiln-images', 'vhd-twin')).id).toBe(imageId);
    expectFixedVhdHolding(await vhdAt(both['web-vhd']!, 'packer-vhds', /^webpkros\d{8}T\d{9}Z\.vhd$/), 'VHD and image from one Packer build');

    const only = (await bakeWithCli('test/fixtures/packer/vhd-only.pkr.hcl')).outputs.artifacts ?? {};
    expect(Object.keys(only)).toEqual(['edge-vhd']);
    expectFixedVhdHolding(await vhdAt(only['edge-vhd']!, 'images', /^edgepkros\d{8}T\d{9}Z\.vhd$/), 'Served from a Packer VHD');
  }, 180_000);
});
