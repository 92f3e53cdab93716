/**
 * Packer templates baked as a user would: `kiln bake FILE` (the local default, started for the bake) on the Microsoft
 * Learn tutorial's JSON shape and on an HCL2 template with a local script and file provisioners. The managed images
 * they name exist afterwards, and a Kiln bake from each image proves in its VM that the provisioners' files are on it.
 */

import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalDefault, type LocalDefault } from '../../local/default.ts';
import { KilnClient } from '../../src/api/client.ts';
import type { RunRecord } from '../../src/runs/record.ts';
import { azureClients } from './bake-support.ts';
import { describeRun, runKiln, waitForEnd } from './triggers-support.ts';

const SUBSCRIPTION = '00000000-0000-0000-0000-000000000000';
const imageId = (name: string) => `/subscriptions/${SUBSCRIPTION}/resourceGroups/kiln-images/providers/Microsoft.Compute/images/${name}`;
let home: string;
const ports = ['--port', '0', '--arm-port', '0', '--key-vault-port', '0', '--blob-port', '0'];

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'kiln-packer-'));
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

async function bakeWithCli(file: string): Promise<RunRecord> {
  const { code, stdout, stderr } = await runKiln(['bake', file, '--json', '--home', home, '--profile', 'zero', ...ports]);
  const record = JSON.parse(stdout) as RunRecord;
  expect(record.status, `${describeRun(record)}\n${stderr.slice(-3000)}`).toBe('Succeeded');
  expect(code).toBe(0);
  return record;
}

/** A Kiln template that builds from a managed image and checks, inside the VM, the files it must hold. */
function checkTemplate(name: string, source: string, checks: string[]): Record<string, unknown> {
  return {
    name: `${name}-check`,
    location: 'eastus',
    properties: {
      source: { type: 'ManagedImage', imageId: imageId(source) },
      validate: { inVMValidations: [{ type: 'Shell', name: 'packer-effects', inline: checks }] },
      distribute: [{ type: 'ManagedImage', imageId: imageId(`${name}-check`), location: 'eastus', runOutputName: `${name}-check` }],
    },
  };
}

describe('Packer templates baked with kiln bake', () => {
  it('bakes the tutorial JSON and the HCL2 template with local files; both images hold what the provisioners wrote', async () => {
    const tutorial = await bakeWithCli('test/fixtures/packer/linux-tutorial.json');
    expect(tutorial.outputs.artifacts).toEqual({ 'packer-tutorial': imageId('packer-tutorial') });
    const files = await bakeWithCli('test/fixtures/packer/linux-files.pkr.hcl');
    expect(files.outputs.artifacts).toEqual({ 'site-files': imageId('site-files') });

    // The same KILN_HOME again: the emulator kept the images the two bakes captured.
    let local: LocalDefault | undefined;
    try {
      local = await startLocalDefault({ home, functionsPort: 0, armPort: 0, keyVaultPort: 0, blobPort: 0, profile: 'zero' });
      const { compute } = azureClients(local);
      for (const name of ['packer-tutorial', 'site-files']) {
        expect((await compute.images.get('kiln-images', name)).id).toBe(imageId(name));
      }
      const client = new KilnClient(local.functionsUrl, { key: local.apiKey });
      const checks = [
        checkTemplate('packer-tutorial', 'packer-tutorial', [
          "grep -qx 'PACKER_IMAGE=packer-tutorial' /etc/packer-release",
          "grep -q 'Hello from a Packer template baked by Kiln' /var/www/html/index.html",
        ]),
        checkTemplate('site-files', 'site-files', [
          "grep -qx 'APP_NAME=Site' /opt/site/release.env",
          "grep -qx 'image=site-files' /opt/site/release.env",
          "grep -q 'built from a Packer HCL2 template' /etc/motd",
          "grep -q '<h1>site</h1>' /var/www/site/index.html",
          'test -s /var/www/site/style.css',
          "grep -qx 'owner=PLATFORM' /etc/kiln-owner",
        ]),
      ];
      for (const template of checks) {
        const run = await waitForEnd(client, (await client.startBake(template)).id);
        expect(run.status, describeRun(run)).toBe('Succeeded');
        expect(run.steps.find((s) => s.name === 'validate')?.status).toBe('Succeeded');
      }

      // An upload must hash to its name; a File step naming nothing uploaded fails the bake by name.
      const sha = (text: string) => createHash('sha256').update(text).digest('hex');
      await expect(client.putUpload(sha('expected'), Buffer.from('other bytes'))).rejects.toMatchObject({ statusCode: 400 });
      const missing = checkTemplate('missing-upload', 'site-files', ['true']);
      (missing.properties as Record<string, unknown>).customize = [{ type: 'File', sourceUri: `kiln-upload://sha256/${sha('never uploaded')}`, destination: '/etc/never' }];
      const failed = await waitForEnd(client, (await client.startBake(missing)).id);
      expect(failed.status).toBe('Failed');
      expect(failed.error).toMatchObject({ step: 'customize', code: 'UploadMissing' });
    } finally {
      await local?.close();
    }
  }, 240_000);
});
