/** Step 3c, the build VM: from the template's source, on the staging (or given) subnet, with no public IP. */

import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { TAG_RUN_ID } from '../azure/resourceGroups.ts';
import { startCreateVm, type BuildVmLogin, type BuildVmOptions, type VmImage } from '../azure/virtualMachines.ts';
import type { BakeSpec } from '../template/spec.ts';
import type { BakePlan, BeginStagingVmInput, OperationStatus } from './contracts.ts';
import { activityEnvironment } from './environment.ts';
import { stagingNames } from './naming.ts';
import { operationStatus, statusOf } from './outcomes.ts';

/** The source as the VM model wants it; a source's `latest` is pinned to the version plan resolved. */
export function vmImage(spec: BakeSpec, sourceVersion?: string): VmImage {
  const s = spec.source;
  switch (s.type) {
    case 'PlatformImage':
      return {
        kind: 'platform',
        publisher: s.publisher,
        offer: s.offer,
        sku: s.sku,
        // A marketplace `latest` is pinned to what plan resolved, so the image is built from the version recorded.
        version: s.version === 'latest' && sourceVersion ? sourceVersion : s.version,
        ...(s.planInfo ? { plan: { name: s.planInfo.planName, product: s.planInfo.planProduct, publisher: s.planInfo.planPublisher } } : {}),
      };
    case 'ManagedImage':
      return { kind: 'managedImage', id: s.imageId };
    case 'SharedImageVersion':
      {
        const version = s.version ?? sourceVersion;
        // Without any version the definition id lets Azure take its latest.
        return { kind: 'galleryVersion', id: version ? `${s.image.id}/versions/${version}` : s.image.id };
      }
  }
}

export function buildVmOptions(plan: BakePlan, spec: BakeSpec, subscriptionId: string): BuildVmOptions {
  const names = stagingNames(plan.runId, plan.staging.resourceGroupName);
  return {
    subscriptionId,
    resourceGroup: plan.staging.resourceGroupName,
    name: plan.staging.vmName,
    computerName: names.computerName,
    location: plan.location,
    vmSize: spec.vmProfile.vmSize,
    ...(spec.vmProfile.osDiskSizeGB !== undefined ? { osDiskSizeGB: spec.vmProfile.osDiskSizeGB } : {}),
    subnetId: plan.staging.subnetId,
    userAssignedIdentities: spec.vmProfile.userAssignedIdentities,
    tags: { ...plan.staging.tags, [TAG_RUN_ID]: plan.runId },
    osType: plan.osType,
    image: vmImage(spec, plan.sourceVersion),
    sourceIsSpecialized: plan.build.sourceIsSpecialized,
    trustedLaunch: plan.build.trustedLaunch,
  };
}

/**
 * Nobody logs in to a build VM: Linux gets an SSH public key whose private half was never kept, Windows a random
 * password that never leaves this activity.
 */
async function throwawayLogin(osType: BakePlan['osType']): Promise<BuildVmLogin> {
  if (osType === 'Windows') return { adminPassword: `Kn!${randomBytes(24).toString('base64url')}` };
  return { sshPublicKey: await prepareUnusableSshKey() };
}

/** Starts (or joins) making the process's key; the app calls it when a worker starts, so no bake waits for it. */
export function prepareUnusableSshKey(): Promise<string> {
  unusableSshKey ??= makeUnusableSshKey();
  // A failed key is made again by the next caller instead of failing every bake of this process.
  unusableSshKey.catch(() => {
    unusableSshKey = undefined;
  });
  return unusableSshKey;
}

/**
 * One per process: a key nobody holds the private half of opens no VM, so a fresh one per VM would add nothing but
 * 100+ ms of CPU per bake (an RSA key), which a wave of bakes pays on a shared host.
 */
let unusableSshKey: Promise<string> | undefined;

async function makeUnusableSshKey(): Promise<string> {
  // In libuv's pool, off the event loop: no other bake in the host waits for it.
  const { publicKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 3072 });
  return openSshRsaPublicKey(publicKey.export({ format: 'jwk' }));
}

/** An RSA public key in OpenSSH's one-line form (`ssh-rsa AAAA…`), from its JWK modulus and exponent. */
export function openSshRsaPublicKey(jwk: { n?: string; e?: string }): string {
  const mpint = (b64url: string) => {
    let bytes = Buffer.from(b64url, 'base64url');
    if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]); // keep it positive
    return bytes;
  };
  const field = (buf: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(buf.length);
    return Buffer.concat([len, buf]);
  };
  const blob = Buffer.concat([field(Buffer.from('ssh-rsa')), field(mpint(jwk.e ?? '')), field(mpint(jwk.n ?? ''))]);
  return `ssh-rsa ${blob.toString('base64')} kiln-build-vm`;
}

/** The VM goes with the staging group (stage-group.ts), or on its own in a group the template gave. */
export async function beginStagingVm({ plan, spec }: BeginStagingVmInput): Promise<OperationStatus> {
  return operationStatus(async () => {
    const { clients, config } = activityEnvironment();
    // The key is made while the adapter looks for an existing VM (it is thrown away if there is one).
    const login = throwawayLogin(plan.osType);
    login.catch(() => undefined);
    return statusOf(await startCreateVm(clients, buildVmOptions(plan, spec, config.subscriptionId), () => login));
  });
}
