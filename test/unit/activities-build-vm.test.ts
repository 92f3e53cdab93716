import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BakePlan } from '../../src/activities/contracts.ts';
import { buildVmOptions, openSshRsaPublicKey, prepareUnusableSshKey, vmImage } from '../../src/activities/stage-vm.ts';
import { buildVmModel } from '../../src/azure/virtualMachines.ts';
import { parseTemplate } from '../../src/template/index.ts';

const sub = '00000000-0000-0000-0000-000000000000';

function spec(source: Record<string, unknown>) {
  const parsed = parseTemplate({
    name: 't',
    location: 'eastus',
    properties: {
      source,
      distribute: [{ type: 'ManagedImage', imageId: `/subscriptions/${sub}/resourceGroups/img/providers/Microsoft.Compute/images/i`, location: 'eastus', runOutputName: 'm' }],
    },
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.spec;
}

const plan = {
  runId: 't-20261125T131900Z-0001',
  location: 'eastus',
  osType: 'Linux',
  build: { sourceIsSpecialized: false, trustedLaunch: false, hyperVGeneration: 'V2' },
  staging: {
    resourceGroupName: 'kiln-staging-t',
    resourceGroupId: `/subscriptions/${sub}/resourceGroups/kiln-staging-t`,
    createdByKiln: true,
    tags: { team: 'web' },
    expiresAt: '2026-11-26T13:19:00.000Z',
    subnetId: `/subscriptions/${sub}/resourceGroups/kiln-staging-t/providers/Microsoft.Network/virtualNetworks/v/subnets/build`,
    createNetwork: true,
    vmName: 'kiln-vm-1',
    vmId: `/subscriptions/${sub}/resourceGroups/kiln-staging-t/providers/Microsoft.Compute/virtualMachines/kiln-vm-1`,
  },
  distributions: [],
  poll: { minMs: 1, maxMs: 2 },
} satisfies BakePlan;

describe('build VM', () => {
  it('writes a throwaway RSA key in the OpenSSH form Azure and ssh-keygen accept', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const line = openSshRsaPublicKey(publicKey.export({ format: 'jwk' }));
    expect(line).toMatch(/^ssh-rsa AAAAB3NzaC1yc2E[A-Za-z0-9+/=]+ kiln-build-vm$/);
    const dir = mkdtempSync(join(tmpdir(), 'kiln-key-'));
    try {
      writeFileSync(join(dir, 'key.pub'), `${line}\n`);
      expect(execFileSync('ssh-keygen', ['-l', '-f', join(dir, 'key.pub')], { encoding: 'utf8' })).toMatch(/^2048 SHA256:\S+ kiln-build-vm \(RSA\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refers to each kind of source as the VM model wants it', () => {
    expect(vmImage(spec({ type: 'PlatformImage', publisher: 'Canonical', offer: 'o', sku: 's', version: 'latest' }))).toEqual({ kind: 'platform', publisher: 'Canonical', offer: 'o', sku: 's', version: 'latest' });
    const def = `/subscriptions/${sub}/resourceGroups/g/providers/Microsoft.Compute/galleries/gal/images/def`;
    expect(vmImage(spec({ type: 'SharedImageVersion', imageVersionId: def }))).toEqual({ kind: 'galleryVersion', id: def });
    expect(vmImage(spec({ type: 'SharedImageVersion', imageVersionId: `${def}/versions/1.2.3` }))).toEqual({ kind: 'galleryVersion', id: `${def}/versions/1.2.3` });
  });

  it('leaves out osProfile for a specialized source and the public IP always', () => {
    const s = spec({ type: 'SharedImageVersion', imageVersionId: `/subscriptions/${sub}/resourceGroups/g/providers/Microsoft.Compute/galleries/gal/images/def/versions/1.0.0` });
    const specialized = buildVmModel(buildVmOptions({ ...plan, build: { ...plan.build, sourceIsSpecialized: true } }, s, sub), { sshPublicKey: 'ssh-rsa AAAA x' });
    expect(specialized.osProfile).toBeUndefined();
    const generalized = buildVmModel(buildVmOptions(plan, s, sub), { sshPublicKey: 'ssh-rsa AAAA x' });
    expect(generalized.osProfile?.linuxConfiguration?.disablePasswordAuthentication).toBe(true);
    const nic = generalized.networkProfile?.networkInterfaceConfigurations?.[0];
    expect(nic?.ipConfigurations?.[0]).toEqual({ name: 'ipconfig1', primary: true, subnet: { id: plan.staging.subnetId } });
    expect(JSON.stringify(generalized)).not.toContain('publicIPAddress');
  });

  it('makes the throwaway SSH key once per process: warmed at worker start, every later bake gets that key', async () => {
    const warmed = prepareUnusableSshKey();
    const again = prepareUnusableSshKey();
    expect(again).toBe(warmed);
    expect(await again).toMatch(/^ssh-rsa AAAAB3NzaC1yc2E\S+ kiln-build-vm$/);
  });
});
