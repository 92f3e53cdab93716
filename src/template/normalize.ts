/** Builds the normalized BakeSpec from a template that passed the schema and the cross-field rules. */

import { parseArmIdOf } from './arm-id.ts';
import { parseAibDuration, parseIsoDuration } from './duration.ts';
import { normalizeRegion, parseSecretUri } from './fields.ts';
import type { TemplateProperties } from './schema.ts';
import {
  DEFAULT_BUILD_TIMEOUT_MINUTES,
  type BakeSpec,
  type Customizer,
  type Distribution,
  type Duration,
  type FileCustomizer,
  type GalleryImageRef,
  type ImageSource,
  type PowerShellCustomizer,
  type ReplicaRegion,
  type ScriptSource,
  type SecretRef,
  type ShellCustomizer,
  type Versioning,
} from './spec.ts';

const DEFAULTS = {
  vmSize: 'Standard_D2ds_v4',
  restartCommand: 'shutdown /r /f /t 0 /c "kiln restart"',
  restartTimeout: '5m',
  windowsUpdateSearchCriteria: 'IsInstalled=0',
  windowsUpdateFilters: ["exclude:$_.Title -like '*Preview*'", 'include:$true'],
  windowsUpdateLimit: 1000,
  batchPercent: 20,
  maxUnhealthyPercent: 20,
  pauseBetweenBatches: 'PT0S',
  approvalTimeout: 'PT24H',
} as const;

type Props = TemplateProperties;
type Step = NonNullable<Props['customize']>[number];
type ScriptStep = Extract<Step, { type: 'Shell' | 'PowerShell' }>;

// Inputs here already passed the schema, so these parses cannot fail; the throw marks a broken invariant.
function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`template normalize: ${what} passed validation but does not parse`);
  return value;
}

function iso(text: string): Duration {
  return must(parseIsoDuration(text), `duration ${text}`);
}

/** Splits a gallery image (or image version) id into the image definition and the optional version. */
function galleryImage(id: string): { image: GalleryImageRef; version?: string } {
  const versioned = parseArmIdOf('galleryImageVersion', id);
  const parsed = versioned ?? must(parseArmIdOf('galleryImage', id), `gallery image id ${id}`);
  const [gallery = '', image = '', named] = parsed.names;
  // `/versions/latest` names no version: the plan resolves the definition's newest, as for a definition id.
  const version = named?.toLowerCase() === 'latest' ? undefined : named;
  const imageId = id.split('/').slice(0, 11).join('/');
  return {
    image: { id: imageId, subscriptionId: parsed.subscriptionId, resourceGroup: parsed.resourceGroup, gallery, image },
    ...(version ? { version } : {}),
  };
}

function script(step: ScriptStep): ScriptSource {
  if (step.inline) return { kind: 'inline', lines: step.inline };
  const uri = must(step.scriptUri, 'scriptUri');
  return step.sha256Checksum ? { kind: 'uri', uri, sha256Checksum: step.sha256Checksum.toLowerCase() } : { kind: 'uri', uri };
}

type FileStep = Extract<Step, { type: 'File' }>;

/** The optional Kiln `timeout` of a step, parsed. */
function timeout(step: { timeout?: string }): { timeout?: Duration } {
  return step.timeout ? { timeout: must(parseAibDuration(step.timeout), 'timeout') } : {};
}

function fileStep(step: FileStep, name: string): FileCustomizer {
  return {
    type: 'File', name, sourceUri: step.sourceUri, destination: step.destination,
    ...(step.sha256Checksum ? { sha256Checksum: step.sha256Checksum.toLowerCase() } : {}),
    ...timeout(step),
  };
}

/** AIB reads "" (or only spaces) in an optional text field as "the default". */
function text(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function scriptStep(step: ScriptStep, name: string): ShellCustomizer | PowerShellCustomizer {
  const common = { name, script: script(step), secrets: step.secrets ?? [], ...timeout(step) };
  if (step.type === 'Shell') return { type: 'Shell', ...common };
  return {
    type: 'PowerShell',
    ...common,
    runElevated: step.runElevated ?? false,
    runAsSystem: step.runAsSystem ?? false,
    validExitCodes: step.validExitCodes ?? [0],
  };
}

function customizer(step: Step, index: number): Customizer {
  const name = step.name ?? `${step.type}-${index + 1}`;
  switch (step.type) {
    case 'Shell':
    case 'PowerShell':
      return scriptStep(step, name);
    case 'File':
      return fileStep(step, name);
    case 'WindowsRestart': {
      const check = text(step.restartCheckCommand);
      return {
        type: 'WindowsRestart', name,
        restartCommand: text(step.restartCommand) ?? DEFAULTS.restartCommand,
        ...(check ? { restartCheckCommand: check } : {}),
        restartTimeout: must(parseAibDuration(text(step.restartTimeout) ?? DEFAULTS.restartTimeout), 'restartTimeout'),
      };
    }
    case 'WindowsUpdate':
      return {
        type: 'WindowsUpdate', name,
        searchCriteria: text(step.searchCriteria) ?? DEFAULTS.windowsUpdateSearchCriteria,
        filters: step.filters ?? [...DEFAULTS.windowsUpdateFilters],
        updateLimit: step.updateLimit || DEFAULTS.windowsUpdateLimit,
        ...timeout(step),
      };
  }
}

function source(src: Props['source']): ImageSource {
  switch (src.type) {
    case 'PlatformImage':
      return { ...src };
    case 'ManagedImage':
      return { type: 'ManagedImage', imageId: src.imageId };
    case 'SharedImageVersion':
      return { type: 'SharedImageVersion', imageVersionId: src.imageVersionId, ...galleryImage(src.imageVersionId) };
  }
}

function distribution(dist: Props['distribute'][number], location: string): Distribution {
  const artifactTags = dist.artifactTags ?? {};
  switch (dist.type) {
    case 'SharedImage': {
      const { image, version } = galleryImage(dist.galleryImageId);
      const storageAccountType = dist.storageAccountType ?? 'Standard_LRS';
      const regions: ReplicaRegion[] = dist.targetRegions
        ? dist.targetRegions.map((r) => ({
            name: normalizeRegion(r.name),
            replicaCount: r.replicaCount ?? 1,
            storageAccountType: r.storageAccountType ?? storageAccountType,
          }))
        : (dist.replicationRegions ?? [location]).map((name) => ({ name: normalizeRegion(name), replicaCount: 1, storageAccountType }));
      return {
        type: 'SharedImage', runOutputName: dist.runOutputName, galleryImageId: image.id, image,
        ...(version ? { version } : {}),
        versioning: versioning(dist.versioning),
        regions, excludeFromLatest: dist.excludeFromLatest ?? false, artifactTags,
      };
    }
    case 'ManagedImage':
      return { type: 'ManagedImage', runOutputName: dist.runOutputName, imageId: dist.imageId, location: normalizeRegion(dist.location), artifactTags };
    case 'VHD':
      return { type: 'VHD', runOutputName: dist.runOutputName, ...(text(dist.uri) ? { uri: dist.uri } : {}), artifactTags };
  }
}

/** major -1 is AIB's "no major version constraint". */
function versioning(given: Extract<Props['distribute'][number], { type: 'SharedImage' }>['versioning']): Versioning {
  if (!given) return { scheme: 'Latest' };
  if (given.scheme === 'Latest' && given.major === -1) return { scheme: 'Latest' };
  return given;
}

function secretRef(ref: NonNullable<Props['secrets']>[string]): SecretRef {
  if (typeof ref === 'string') return must(parseSecretUri(ref), 'secret URI');
  return ref.version ? { vault: ref.vault, name: ref.name, version: ref.version } : { vault: ref.vault, name: ref.name };
}

export interface TemplateEnvelope {
  name: string;
  location: string;
  tags?: Record<string, string>;
}

export function normalize(props: Props, envelope: TemplateEnvelope): BakeSpec {
  const location = normalizeRegion(envelope.location);
  return {
    name: envelope.name,
    location,
    tags: envelope.tags ?? {},
    managedResourceTags: props.managedResourceTags ?? {},
    source: source(props.source),
    customizers: (props.customize ?? []).map(customizer),
    validation: {
      inVMValidations: (props.validate?.inVMValidations ?? []).map((step, i) => {
        const name = step.name ?? `validate-${i + 1}`;
        return step.type === 'File' ? fileStep(step, name) : scriptStep(step, name);
      }),
      continueDistributeOnFailure: props.validate?.continueDistributeOnFailure ?? false,
      sourceValidationOnly: props.validate?.sourceValidationOnly ?? false,
    },
    distributions: props.distribute.map((d) => distribution(d, location)),
    vmProfile: {
      vmSize: text(props.vmProfile?.vmSize) ?? DEFAULTS.vmSize,
      ...(props.vmProfile?.osDiskSizeGB ? { osDiskSizeGB: props.vmProfile.osDiskSizeGB } : {}),
      ...(props.vmProfile?.vnetConfig ? { subnetId: props.vmProfile.vnetConfig.subnetId } : {}),
      userAssignedIdentities: props.vmProfile?.userAssignedIdentities ?? [],
    },
    buildTimeoutInMinutes: props.buildTimeoutInMinutes || DEFAULT_BUILD_TIMEOUT_MINUTES,
    ...(props.stagingResourceGroup ? { stagingResourceGroup: props.stagingResourceGroup } : {}),
    errorHandling: {
      onCustomizerError: props.errorHandling?.onCustomizerError ?? 'cleanup',
      onValidationError: props.errorHandling?.onValidationError ?? 'cleanup',
    },
    secrets: Object.fromEntries(Object.entries(props.secrets ?? {}).map(([k, v]) => [k, secretRef(v)])),
    rollout: (props.rollout ?? []).map((t) => {
      const id = must(parseArmIdOf('scaleSet', t.scaleSetId), 'scaleSetId');
      return {
        scaleSetId: t.scaleSetId, subscriptionId: id.subscriptionId, resourceGroup: id.resourceGroup, scaleSetName: id.names[0] ?? '',
        batchPercent: t.batchPercent ?? DEFAULTS.batchPercent,
        maxUnhealthyPercent: t.maxUnhealthyPercent ?? DEFAULTS.maxUnhealthyPercent,
        pauseBetweenBatches: iso(t.pauseBetweenBatches ?? DEFAULTS.pauseBetweenBatches),
        rollbackOnFailure: t.rollbackOnFailure ?? true,
        mode: t.mode ?? 'auto',
      };
    }),
    approval: { required: props.approval?.required ?? false, timeout: iso(props.approval?.timeout ?? DEFAULTS.approvalTimeout) },
    schedule: { ...(props.schedule?.patch ? { patch: props.schedule.patch } : {}), onSourceUpdate: props.schedule?.onSourceUpdate ?? false },
    notify: { webhooks: props.notify?.webhooks ?? [] },
  };
}
