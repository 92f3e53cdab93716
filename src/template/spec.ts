/** The normalized bake specification that a parsed template becomes: every default filled in, every id checked. */

/** An ISO 8601 duration as written (or converted from AIB's Go form, e.g. "5m"), plus its length in milliseconds. */
export interface Duration {
  iso: string;
  ms: number;
}

/** The parts of a gallery image definition id, `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/galleries/{g}/images/{i}`. */
export interface GalleryImageRef {
  /** The image definition id (without any `/versions/…` suffix). */
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  gallery: string;
  image: string;
}

// ---- source -------------------------------------------------------------------------------------------------

export interface PlatformImageSource {
  type: 'PlatformImage';
  publisher: string;
  offer: string;
  sku: string;
  /** `latest` or Major.Minor.Patch. */
  version: string;
  planInfo?: { planName: string; planProduct: string; planPublisher: string };
}

export interface ManagedImageSource {
  type: 'ManagedImage';
  /** ARM id of a Microsoft.Compute/images resource. */
  imageId: string;
}

export interface SharedImageVersionSource {
  type: 'SharedImageVersion';
  /** ARM id as written: an image version, or an image definition (meaning its latest version). */
  imageVersionId: string;
  image: GalleryImageRef;
  /** Major.Minor.Patch, or undefined for the definition's latest version. */
  version?: string;
}

export type ImageSource = PlatformImageSource | ManagedImageSource | SharedImageVersionSource;

// ---- customizers and in-VM validations ----------------------------------------------------------------------

/** Where a script's text comes from: inline lines, or an https URI (optionally pinned by checksum). */
export type ScriptSource =
  | { kind: 'inline'; lines: string[] }
  | { kind: 'uri'; uri: string; sha256Checksum?: string };

export interface ShellCustomizer {
  type: 'Shell';
  name: string;
  script: ScriptSource;
  /** Names from BakeSpec.secrets, given to the script as environment variables (Run Command protectedParameters). */
  secrets: string[];
  /** Kiln extension: the step's time limit; absent, what is left of buildTimeoutInMinutes. */
  timeout?: Duration;
}

export interface PowerShellCustomizer {
  type: 'PowerShell';
  name: string;
  script: ScriptSource;
  secrets: string[];
  /** With runAsSystem (which needs it), the script runs as LocalSystem: Run Command's own identity. */
  runElevated: boolean;
  runAsSystem: boolean;
  timeout?: Duration;
  /** Exit codes that count as success; default [0]. */
  validExitCodes: number[];
}

export interface FileCustomizer {
  type: 'File';
  name: string;
  /** https URI the VM downloads. */
  sourceUri: string;
  /** Absolute path in the VM. */
  destination: string;
  sha256Checksum?: string;
  timeout?: Duration;
}

export interface WindowsRestartCustomizer {
  type: 'WindowsRestart';
  name: string;
  restartCommand: string;
  restartCheckCommand?: string;
  /** Default 5 minutes. */
  restartTimeout: Duration;
}

export interface WindowsUpdateCustomizer {
  type: 'WindowsUpdate';
  name: string;
  searchCriteria: string;
  filters: string[];
  /** Most updates one pass installs (Packer's update_limit); passes repeat until one finds none. */
  updateLimit: number;
  /** Every pass and restart together. */
  timeout?: Duration;
}

export type Customizer =
  | ShellCustomizer
  | PowerShellCustomizer
  | FileCustomizer
  | WindowsRestartCustomizer
  | WindowsUpdateCustomizer;

/** An in-VM validation is a step whose failure fails validation (not customization); File validators upload what checks need. */
export type InVMValidation = ShellCustomizer | PowerShellCustomizer | FileCustomizer;

export interface Validation {
  inVMValidations: InVMValidation[];
  /** Distribute the image even if validation failed (AIB semantics). Default false. */
  continueDistributeOnFailure: boolean;
  /** Validate the source image only, skipping customization. Default false. */
  sourceValidationOnly: boolean;
}

// ---- distribution -------------------------------------------------------------------------------------------

export type StorageAccountType = 'Standard_LRS' | 'Standard_ZRS' | 'Premium_LRS';

/** One replication target; replicationRegions and targetRegions both normalize to this. */
export interface ReplicaRegion {
  name: string;
  replicaCount: number;
  storageAccountType: StorageAccountType;
}

/** How the next version number is chosen when galleryImageId names no version. */
export type Versioning = { scheme: 'Latest'; major?: number } | { scheme: 'Source' };

export interface SharedImageDistribution {
  type: 'SharedImage';
  runOutputName: string;
  /** The image definition id (any `/versions/x.y.z` suffix moved to `version`). */
  galleryImageId: string;
  image: GalleryImageRef;
  /** Major.Minor.Patch when the template pins the version; otherwise chosen by `versioning`. */
  version?: string;
  /** Default { scheme: 'Latest' }: next patch after the highest existing version. */
  versioning: Versioning;
  /** Never empty: defaults to the template's location with one Standard_LRS replica. */
  regions: ReplicaRegion[];
  excludeFromLatest: boolean;
  artifactTags: Record<string, string>;
}

export interface ManagedImageDistribution {
  type: 'ManagedImage';
  runOutputName: string;
  /** ARM id of the Microsoft.Compute/images resource to create. */
  imageId: string;
  location: string;
  artifactTags: Record<string, string>;
}

export interface VhdDistribution {
  type: 'VHD';
  runOutputName: string;
  /** Target blob URI, or undefined for a Kiln-chosen location. */
  uri?: string;
  artifactTags: Record<string, string>;
}

export type Distribution = SharedImageDistribution | ManagedImageDistribution | VhdDistribution;

// ---- build VM, error handling -------------------------------------------------------------------------------

export interface VmProfile {
  /** Default Standard_D2ds_v4. */
  vmSize: string;
  /** Undefined keeps the source image's OS disk size. */
  osDiskSizeGB?: number;
  /** ARM id of a Microsoft.Network/virtualNetworks/subnets resource; undefined = a staging network. */
  subnetId?: string;
  /** ARM ids of user-assigned identities attached to the build VM. */
  userAssignedIdentities: string[];
}

export type ErrorAction = 'cleanup' | 'abort';

export interface ErrorHandling {
  /** Default 'cleanup'. 'abort' keeps the staging group for debugging. */
  onCustomizerError: ErrorAction;
  onValidationError: ErrorAction;
}

// ---- Kiln extensions ----------------------------------------------------------------------------------------

/** A Key Vault secret reference; a secret URI normalizes to this (vault = the vault's name). */
export interface SecretRef {
  vault: string;
  name: string;
  version?: string;
}

export interface RolloutTarget {
  /** ARM id of a Microsoft.Compute/virtualMachineScaleSets resource. */
  scaleSetId: string;
  subscriptionId: string;
  resourceGroup: string;
  scaleSetName: string;
  /** Default 20. */
  batchPercent: number;
  /** Default 20. */
  maxUnhealthyPercent: number;
  /** Default PT0S. */
  pauseBetweenBatches: Duration;
  /** Default true. */
  rollbackOnFailure: boolean;
  /** Default auto: the scale set's upgrade policy decides; batches: Kiln's batches (the policy set to Manual meanwhile). */
  mode: 'auto' | 'batches';
}

export interface Approval {
  /** Default false. */
  required: boolean;
  /** Default PT24H. */
  timeout: Duration;
}

export interface Schedule {
  /** 6-field NCRONTAB (`sec min hour day month weekday`) for patch rebuilds. */
  patch?: string;
  /** Rebuild when a PlatformImage source publishes a newer version. Default false. */
  onSourceUpdate: boolean;
}

/** Completion notifications: each webhook receives the run record when a bake ends. */
export interface Notify {
  /** https URLs (http only on loopback, for local receivers). Default []. */
  webhooks: string[];
}

// ---- the whole spec -----------------------------------------------------------------------------------------

export const DEFAULT_BUILD_TIMEOUT_MINUTES = 240;

export interface BakeSpec {
  /** Template name: the option given to parseTemplate, else the resource's `name`, else 'template'. */
  name: string;
  /** The resource's location, or the one given beside a properties-only template; never defaulted. */
  location: string;
  /** The resource's tags: on the image version or managed image Kiln makes, and on every staging resource. */
  tags: Record<string, string>;
  /** Tags Azure Policy may demand on staging resources: on every resource Kiln stages (group, network, VM). */
  managedResourceTags: Record<string, string>;
  source: ImageSource;
  customizers: Customizer[];
  validation: Validation;
  /** At least one. */
  distributions: Distribution[];
  vmProfile: VmProfile;
  /** 1–960; a template's 0 or absence means 240. */
  buildTimeoutInMinutes: number;
  /** ARM id of a resource group to build in; undefined = Kiln creates and deletes its own. */
  stagingResourceGroup?: string;
  errorHandling: ErrorHandling;
  secrets: Record<string, SecretRef>;
  rollout: RolloutTarget[];
  approval: Approval;
  schedule: Schedule;
  notify: Notify;
}

/** One problem in a template. `path` is the JSON path in the file as given, e.g. `properties.customize[2].sha256Checksum`. */
export interface TemplateError {
  path: string;
  message: string;
  expected?: string;
  found?: string;
}

/** Something accepted but not acted on (a read-only field, an ignored value), said once so nothing is silently dropped. */
export interface TemplateWarning {
  path: string;
  message: string;
}

export type ParseResult = { ok: true; spec: BakeSpec; warnings: TemplateWarning[] } | { ok: false; errors: TemplateError[] };
