/** Planning for scheduled rebuilds: when a patch rebuild or a source-update rebuild is due, and the spec it bakes. */

import { CronExpressionParser } from 'cron-parser';
import { compareVersions } from '../azure/galleries.ts';
import type { OsType } from '../azure/virtualMachines.ts';
import type {
  BakeSpec,
  Customizer,
  SharedImageDistribution,
  ShellCustomizer,
  PlatformImageSource,
} from '../template/spec.ts';

/** The package manager (or Windows Update) a patch step uses. */
export type PatchFamily = 'apt' | 'dnf' | 'zypper' | 'windows';

/** Marketplace publishers whose images Kiln knows how to patch; matched case-insensitively. */
const publisherFamilies: Record<string, PatchFamily> = {
  canonical: 'apt',
  debian: 'apt',
  redhat: 'dnf',
  almalinux: 'dnf',
  openlogic: 'dnf',
  oracle: 'dnf',
  resf: 'dnf',
  'erockyenterprisesoftwarefoundationinc1653071250513': 'dnf',
  suse: 'zypper',
  microsoftwindowsserver: 'windows',
  microsoftwindowsdesktop: 'windows',
};

const packageManagerPatterns: [RegExp, PatchFamily][] = [
  [/\bapt(-get)?\b/, 'apt'],
  [/\b(dnf|yum)\b/, 'dnf'],
  [/\bzypper\b/, 'zypper'],
];

export class SchedulePlanError extends Error {
  override name = 'SchedulePlanError';
}

/**
 * Which patch step fits the image: from the marketplace publisher of the template's source, else from its
 * customizers (Windows steps, or the package manager its scripts call), else from the gallery image's OS type.
 */
export function patchFamily(spec: BakeSpec, galleryOsType?: OsType): PatchFamily {
  if (spec.source.type === 'PlatformImage') {
    const family = publisherFamilies[spec.source.publisher.toLowerCase()];
    if (family) return family;
  }
  const windowsSteps = spec.customizers.some((step) =>
    step.type === 'PowerShell' || step.type === 'WindowsUpdate' || step.type === 'WindowsRestart');
  if (windowsSteps || galleryOsType === 'Windows') return 'windows';
  for (const step of spec.customizers) {
    if (step.type !== 'Shell' || step.script.kind !== 'inline') continue;
    const text = step.script.lines.join('\n');
    for (const [pattern, family] of packageManagerPatterns) if (pattern.test(text)) return family;
  }
  const source = spec.source.type === 'PlatformImage' ? `publisher ${spec.source.publisher}` : spec.source.type;
  throw new SchedulePlanError(
    `template ${spec.name}: cannot tell which patch step fits its OS (expected a known marketplace publisher, ` +
      `Windows steps or a package manager in a Shell step; found ${source})`,
  );
}

function shellStep(name: string, lines: string[]): ShellCustomizer {
  return { type: 'Shell', name, script: { kind: 'inline', lines }, secrets: [] };
}

/** The customizers that bring an image up to date with its OS vendor's patches. */
export function patchSteps(family: PatchFamily): Customizer[] {
  switch (family) {
    case 'apt':
      return [shellStep('patch (apt)', [
        'set -eu',
        'export DEBIAN_FRONTEND=noninteractive',
        'apt-get update',
        'apt-get -y -o Dpkg::Options::=--force-confold upgrade',
      ])];
    case 'dnf':
      return [shellStep('patch (dnf)', ['set -eu', 'dnf -y upgrade --refresh'])];
    case 'zypper':
      // Exit code 103 means zypper updated itself and must run again to apply the remaining patches.
      return [shellStep('patch (zypper)', [
        'set -u',
        'zypper --non-interactive refresh',
        'zypper --non-interactive patch; status=$?',
        'if [ "$status" -eq 103 ]; then zypper --non-interactive patch; status=$?; fi',
        'exit "$status"',
      ])];
    case 'windows':
      return [
        {
          type: 'WindowsUpdate',
          name: 'patch (Windows Update)',
          searchCriteria: 'IsInstalled=0',
          filters: ['exclude:$_.Title -like "*Preview*"', 'include:$true'],
          updateLimit: 1000,
        },
        {
          type: 'WindowsRestart',
          name: 'patch restart',
          restartCommand: 'shutdown /r /f /t 0 /c "Kiln patch rebuild"',
          restartTimeout: { iso: 'PT10M', ms: 600_000 },
        },
      ];
  }
}

/** `1.2.3` → `1.2.4`. */
export function bumpPatch(version: string): string {
  const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!match) throw new SchedulePlanError(`gallery version: expected Major.Minor.Patch, found ${JSON.stringify(version)}`);
  return `${match[1]}.${match[2]}.${Number(match[3]) + 1}`;
}

/** The gallery image a template publishes to: its first SharedImage distribution. */
export function galleryTarget(spec: BakeSpec): SharedImageDistribution | undefined {
  return spec.distributions.find((d): d is SharedImageDistribution => d.type === 'SharedImage');
}

/** True when the NCRONTAB `cron` has an occurrence in (since, now]. */
export function isScheduleDue(cron: string, since: Date, now: Date): boolean {
  const expression = CronExpressionParser.parse(cron, { currentDate: since, tz: 'UTC' });
  return expression.next().getTime() <= now.getTime();
}

/** Checks an NCRONTAB expression; returns the parser's complaint, or undefined when it is valid. */
export function cronProblem(cron: string): string | undefined {
  try {
    CronExpressionParser.parse(cron, { tz: 'UTC' });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * The spec of a patch rebuild: start from the gallery image's latest version, run only the OS patch step (the
 * template's validations still run), publish the next patch version of the highest existing one.
 */
export function planPatchRebuild(
  spec: BakeSpec,
  gallery: { latestVersion: string; highestVersion: string; osType?: OsType },
): BakeSpec {
  const target = galleryTarget(spec);
  if (!target) {
    throw new SchedulePlanError(`template ${spec.name}: a patch rebuild needs a SharedImage distribution, found none`);
  }
  const family = patchFamily(spec, gallery.osType);
  return {
    ...spec,
    source: {
      type: 'SharedImageVersion',
      imageVersionId: `${target.image.id}/versions/${gallery.latestVersion}`,
      image: target.image,
      version: gallery.latestVersion,
    },
    customizers: patchSteps(family),
    validation: { ...spec.validation, sourceValidationOnly: false },
    distributions: spec.distributions.map((d) =>
      d === target ? { ...target, version: bumpPatch(gallery.highestVersion) } : d),
  };
}

/** The spec of a source-update rebuild: the template as written, pinned to the marketplace version found. */
export function planSourceUpdateRebuild(spec: BakeSpec, newVersion: string): BakeSpec {
  if (spec.source.type !== 'PlatformImage') {
    throw new SchedulePlanError(
      `template ${spec.name}: schedule.onSourceUpdate needs a PlatformImage source, found ${spec.source.type}`,
    );
  }
  const source: PlatformImageSource = { ...spec.source, version: newVersion };
  return { ...spec, source };
}

/**
 * Whether the marketplace has a newer version than the one the last source-update check saw. With no earlier
 * check the current version becomes the baseline: the template's own bake already used it.
 */
export function sourceUpdateDecision(
  latestMarketplaceVersion: string,
  lastSeenVersion: string | undefined,
): 'rebuild' | 'baseline' | 'unchanged' {
  if (lastSeenVersion === undefined) return 'baseline';
  return compareVersions(latestMarketplaceVersion, lastSeenVersion) > 0 ? 'rebuild' : 'unchanged';
}
