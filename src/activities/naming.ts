/** Names and versions a bake decides once, deterministically from its run id and what the gallery holds. */

import { createHash } from 'node:crypto';
import { compareVersions } from '../azure/galleries.ts';
import type { SharedImageDistribution } from '../template/spec.ts';

/** A short stable hash of the run id: it keeps names unique inside a group the template gave us. */
export function runHash(runId: string): string {
  return createHash('sha256').update(runId).digest('hex').slice(0, 8);
}

export interface StagingNames {
  resourceGroup: string;
  vm: string;
  /** Windows limits computer names to 15 characters. */
  computerName: string;
  vnet: string;
  subnet: string;
  nsg: string;
}

/** Resource-group names allow 90 characters of letters, digits, `-_.()`; run ids are already in that alphabet. */
export function stagingNames(runId: string, givenResourceGroup?: string): StagingNames {
  const h = runHash(runId);
  return {
    resourceGroup: givenResourceGroup ?? `kiln-staging-${runId}`.slice(0, 90),
    vm: `kiln-vm-${h}`,
    computerName: `kiln${h}`,
    vnet: `kiln-vnet-${h}`,
    subnet: 'build',
    nsg: `kiln-nsg-${h}`,
  };
}

/** The Run Command for a customizer or validation: `kiln-customize-03`, `kiln-validate-01`. */
export function runCommandName(phase: 'customize' | 'validate' | 'deprovision', index = 0): string {
  return phase === 'deprovision' ? 'kiln-deprovision' : `kiln-${phase}-${String(index + 1).padStart(2, '0')}`;
}

const VERSION = /^(\d+)\.(\d+)\.(\d+)$/;
const INT32_MAX = 2_147_483_647;

/** True for a gallery version name: Major.Minor.Patch, each part a 32-bit integer. */
export function isGalleryVersion(v: string): boolean {
  const m = VERSION.exec(v);
  return m !== null && m.slice(1).every((p) => Number(p) <= INT32_MAX);
}

/**
 * The version a SharedImage distribution publishes: the template's pinned one; with scheme Latest the next patch
 * after the highest existing version (of `major`, when given), or `{major|1}.0.0` for an empty definition; with
 * scheme Source the source image's version.
 */
export function nextVersion(
  dist: Pick<SharedImageDistribution, 'version' | 'versioning' | 'galleryImageId'>,
  existing: string[],
  sourceVersion: string | undefined,
): string {
  if (dist.version) return dist.version;
  if (dist.versioning.scheme === 'Source') {
    if (!sourceVersion || !isGalleryVersion(sourceVersion)) {
      throw new Error(
        `distribution ${dist.galleryImageId}: versioning scheme Source needs a source version of the form Major.Minor.Patch, found ${JSON.stringify(sourceVersion ?? null)}`,
      );
    }
    return sourceVersion;
  }
  const major = dist.versioning.major;
  const candidates = existing.filter((v) => isGalleryVersion(v) && (major === undefined || Number(v.split('.')[0]) === major));
  const highest = candidates.sort(compareVersions).at(-1);
  if (!highest) return `${major ?? 1}.0.0`;
  const [ma, mi, pa] = highest.split('.').map(Number) as [number, number, number];
  if (pa >= INT32_MAX) throw new Error(`distribution ${dist.galleryImageId}: version ${highest} has no next patch (32-bit limit)`);
  return `${ma}.${mi}.${pa + 1}`;
}
