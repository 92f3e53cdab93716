/** Cross-field rules: the checks that need more than one field of a template that already has the right shape. */

import { parseArmIdOf } from './arm-id.ts';
import { parseAibDuration } from './duration.ts';
import { normalizeRegion } from './fields.ts';
import { formatPath } from './errors.ts';
import type { TemplateProperties } from './schema.ts';
import type { TemplateError } from './spec.ts';

type Step = NonNullable<TemplateProperties['customize']>[number];
const WINDOWS_STEPS = new Set(['PowerShell', 'WindowsRestart', 'WindowsUpdate']);

/** Azure's cap on one managed Run Command (timeoutInSeconds 5400). */
export const RUN_COMMAND_MAX_MS = 90 * 60_000;

type ErrorSink = (path: PropertyKey[], message: string, expected?: string, found?: string) => void;

/**
 * Run Command runs a script as LocalSystem unless runAsUser/runAsPassword name another account. AIB's runAsSystem
 * (which needs runElevated) is exactly that; runElevated alone means the build VM's administrator, whose password
 * Kiln never keeps (it is thrown away when the VM is made), so Azure's run-as cannot be given it.
 */
function powerShellIdentityErrors(step: Extract<Step, { type: 'PowerShell' }>, path: PropertyKey[], err: ErrorSink): void {
  if (step.runAsSystem && !step.runElevated) {
    err([...path, 'runElevated'], 'RunAsSystemNeedsRunElevated: runAsSystem can only be true when runElevated is true (as in AIB)', 'true', JSON.stringify(step.runElevated ?? false));
  }
  if (step.runElevated && !step.runAsSystem) {
    err([...path, 'runAsSystem'],
      'RunElevatedAsBuildUserUnsupported: runElevated without runAsSystem runs as the build VM\'s administrator, which Run Command can do only with that account\'s password (runAsPassword), and Kiln keeps none; set runAsSystem: true to run elevated as LocalSystem',
      'true', JSON.stringify(step.runAsSystem ?? false));
  }
}

/** Every cross-field problem in `props`; `prefix` is where `properties` sits in the file; `location` the build region. */
export function crossFieldErrors(props: TemplateProperties, prefix: readonly PropertyKey[], location?: string): TemplateError[] {
  const errors: TemplateError[] = [];
  const err = (path: PropertyKey[], message: string, expected?: string, found?: string) =>
    errors.push({ path: formatPath([...prefix, ...path]), message, ...(expected ? { expected } : {}), ...(found ? { found } : {}) });

  const steps: Array<{ step: Step; path: PropertyKey[] }> = [
    ...(props.customize ?? []).map((step, i) => ({ step, path: ['customize', i] })),
    ...(props.validate?.inVMValidations ?? []).map((step, i) => ({ step: step as Step, path: ['validate', 'inVMValidations', i] as PropertyKey[] })),
  ];

  const declared = new Set(Object.keys(props.secrets ?? {}));
  for (const { step, path } of steps) {
    if (step.type === 'Shell' || step.type === 'PowerShell') {
      const sources = (step.inline ? 1 : 0) + (step.scriptUri ? 1 : 0);
      if (sources !== 1) {
        err(path, 'needs exactly one of inline or scriptUri', 'inline or scriptUri', sources === 0 ? 'neither' : 'both');
      }
      if (step.sha256Checksum && !step.scriptUri) err([...path, 'sha256Checksum'], 'applies only with scriptUri', 'scriptUri beside it', 'inline');
      if (step.type === 'PowerShell') powerShellIdentityErrors(step, path, err);
      (step.secrets ?? []).forEach((name, j) => {
        if (!declared.has(name)) {
          err([...path, 'secrets', j], `secret ${name} is not declared in properties.secrets`, 'a name declared in properties.secrets', JSON.stringify(name));
        }
      });
    }
  }

  for (const { step, path } of steps) {
    const text = 'timeout' in step ? step.timeout : undefined;
    const limit = text ? parseAibDuration(text) : undefined;
    // One Run Command runs at most 90 minutes; only WindowsUpdate spreads its time over several.
    if (limit && step.type !== 'WindowsUpdate' && limit.ms > RUN_COMMAND_MAX_MS) {
      err([...path, 'timeout'], 'ScriptTimeoutTooLong: one script runs as one Run Command, which Azure stops after 90 minutes', 'at most 90m', JSON.stringify(text));
    }
  }

  // A bake runs on one OS, so Shell steps and Windows steps cannot share a template (File steps suit both).
  const osSteps = steps.filter(({ step }) => step.type !== 'File');
  const first = osSteps[0];
  if (first) {
    const windows = WINDOWS_STEPS.has(first.step.type);
    for (const { step, path } of osSteps.slice(1)) {
      if (WINDOWS_STEPS.has(step.type) !== windows) {
        err([...path, 'type'], 'cannot mix Linux (Shell) and Windows (PowerShell, WindowsRestart, WindowsUpdate) steps',
          windows ? 'a Windows step, as the first step is' : 'Shell, as the first step is', JSON.stringify(step.type));
      }
    }
  }

  if (props.validate?.sourceValidationOnly && (props.customize ?? []).length > 0) {
    err(['validate', 'sourceValidationOnly'], 'cannot be true when customize has steps', 'false, or an empty customize', 'true');
  }

  const outputNames = new Map<string, number>();
  props.distribute.forEach((dist, i) => {
    const seen = outputNames.get(dist.runOutputName);
    if (seen !== undefined) err(['distribute', i, 'runOutputName'], `duplicates distribute[${seen}].runOutputName`, 'a unique name', JSON.stringify(dist.runOutputName));
    else outputNames.set(dist.runOutputName, i);
    // Azure captures a managed image only in its source VM's region, and the build VM is in the template's.
    if (dist.type === 'ManagedImage' && location !== undefined && normalizeRegion(dist.location) !== normalizeRegion(location)) {
      err(['distribute', i, 'location'], `a managed image is captured from the build VM, which is in ${normalizeRegion(location)}; bake in ${normalizeRegion(dist.location)} or distribute to a gallery and replicate there`, normalizeRegion(location), JSON.stringify(dist.location));
    }
    if (dist.type !== 'SharedImage') return;
    if (dist.replicationRegions && dist.targetRegions) {
      err(['distribute', i, 'targetRegions'], 'cannot be used together with replicationRegions', 'either replicationRegions or targetRegions', 'both');
    }
    const regionNames = dist.targetRegions?.map((r) => r.name) ?? dist.replicationRegions ?? [];
    const key = dist.targetRegions ? 'targetRegions' : 'replicationRegions';
    const regions = new Set<string>();
    regionNames.forEach((name, j) => {
      const region = normalizeRegion(name);
      if (regions.has(region)) err(['distribute', i, key, j, ...(dist.targetRegions ? ['name'] : [])], `region ${region} is listed twice`, 'each region once', JSON.stringify(name));
      regions.add(region);
    });
    if (dist.versioning && parseArmIdOf('galleryImageVersion', dist.galleryImageId)) {
      err(['distribute', i, 'versioning'], 'cannot be used when galleryImageId names a version', 'galleryImageId without /versions/…', 'both');
    }
  });

  const rollout = props.rollout ?? [];
  const sharedImages = props.distribute.filter((d) => d.type === 'SharedImage').length;
  if (rollout.length > 0 && sharedImages !== 1) {
    err(['rollout'], 'needs exactly one SharedImage distribution to roll out', '1 SharedImage distribution', String(sharedImages));
  }
  const scaleSets = new Map<string, number>();
  rollout.forEach((target, i) => {
    const id = target.scaleSetId.toLowerCase();
    const seen = scaleSets.get(id);
    if (seen !== undefined) err(['rollout', i, 'scaleSetId'], `duplicates rollout[${seen}].scaleSetId`, 'each scale set once', JSON.stringify(target.scaleSetId));
    else scaleSets.set(id, i);
  });

  if (props.approval?.required && rollout.length === 0) {
    err(['approval', 'required'], 'an approval gates the rollout, but the template has no rollout', 'a rollout list, or approval.required false', 'no rollout');
  }

  if (props.schedule?.onSourceUpdate && !(props.source.type === 'PlatformImage' && props.source.version === 'latest')) {
    err(['schedule', 'onSourceUpdate'], "needs a PlatformImage source with version 'latest'",
      "source.type PlatformImage, version 'latest'", props.source.type === 'PlatformImage' ? JSON.stringify(props.source.version) : JSON.stringify(props.source.type));
  }
  return errors;
}
