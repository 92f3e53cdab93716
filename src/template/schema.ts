/** The zod schema of a template as written: AIB imageTemplate fields Kiln supports plus the Kiln extensions. */

import { z } from 'zod';
import {
  aibDuration,
  matching,
  armIdOf,
  galleryImageOrVersionId,
  sourceImageVersionId,
  httpsUri,
  httpsUriOr,
  httpsUriOrEmpty,
  isoDuration,
  ncrontab,
  nonEmpty,
  platformVersion,
  region,
  runOutputName,
  SECRET_NAME,
  SECRET_VARIABLE,
  SECRET_VARIABLE_EXPECTED,
  SECRET_VERSION,
  secretUri,
  sha256,
  VAULT_NAME,
  webhookUri,
} from './fields.ts';
import { UPLOAD_URI_EXPECTED, uploadDigest } from './uploads.ts';

/** Stated limits: a template bigger than this, or with more steps, is refused before any deeper work. */
export const LIMITS = {
  maxTemplateBytes: 1024 * 1024,
  maxCustomizers: 200,
  maxValidations: 50,
  maxDistributions: 20,
  maxRegions: 100,
  maxRolloutTargets: 50,
  maxSecrets: 100,
  maxWebhooks: 10,
} as const;

const stringMap = z.record(z.string(), z.string());
const secretVariable = matching(SECRET_VARIABLE, 'must be a secret name', SECRET_VARIABLE_EXPECTED);
const customizerSecrets = z.array(secretVariable).max(LIMITS.maxSecrets).optional();

// ---- source ----

const platformImage = z.strictObject({
  type: z.literal('PlatformImage'),
  publisher: nonEmpty,
  offer: nonEmpty,
  sku: nonEmpty,
  version: platformVersion,
  planInfo: z.strictObject({ planName: nonEmpty, planProduct: nonEmpty, planPublisher: nonEmpty }).optional(),
});
const managedImageSource = z.strictObject({
  type: z.literal('ManagedImage'),
  imageId: armIdOf('managedImage', 'a managed image (Microsoft.Compute/images)'),
});
const sharedImageVersionSource = z.strictObject({
  type: z.literal('SharedImageVersion'),
  imageVersionId: sourceImageVersionId,
});
export const sourceSchema = z.discriminatedUnion('type', [platformImage, managedImageSource, sharedImageVersionSource]);

// ---- customizers ----

const scriptFields = {
  name: nonEmpty.optional(),
  inline: z.array(z.string()).min(1).optional(),
  scriptUri: httpsUri.optional(),
  sha256Checksum: sha256.optional(),
  secrets: customizerSecrets,
  // Kiln extension: the step's time limit (else what is left of buildTimeoutInMinutes).
  timeout: aibDuration.optional(),
};
const shell = z.strictObject({ type: z.literal('Shell'), ...scriptFields });
const powerShell = z.strictObject({
  type: z.literal('PowerShell'),
  ...scriptFields,
  runElevated: z.boolean().optional(),
  runAsSystem: z.boolean().optional(),
  validExitCodes: z.array(z.number().int()).min(1).optional(),
});
// A File's source: an https URI, or a file Kiln holds in its uploads container (uploads.ts).
const fileSourceUri = httpsUriOr((v) => uploadDigest(v) !== undefined, 'must be an https URI or a Kiln upload URI', `https://… or ${UPLOAD_URI_EXPECTED}`);
const file = z.strictObject({
  type: z.literal('File'),
  name: nonEmpty.optional(),
  sourceUri: fileSourceUri,
  destination: nonEmpty,
  sha256Checksum: sha256.optional(),
  timeout: aibDuration.optional(),
});
// AIB reads "" (and updateLimit 0) in these fields as "the default".
const windowsRestart = z.strictObject({
  type: z.literal('WindowsRestart'),
  name: nonEmpty.optional(),
  restartCommand: z.string().optional(),
  restartCheckCommand: z.string().optional(),
  restartTimeout: aibDuration.optional(),
});
const windowsUpdate = z.strictObject({
  type: z.literal('WindowsUpdate'),
  name: nonEmpty.optional(),
  searchCriteria: z.string().optional(),
  filters: z.array(nonEmpty).optional(),
  updateLimit: z.number().int().min(0).max(10_000).optional(),
  timeout: aibDuration.optional(),
});
export const customizerSchema = z.discriminatedUnion('type', [shell, powerShell, file, windowsRestart, windowsUpdate]);
export const validationStepSchema = z.discriminatedUnion('type', [shell, powerShell, file]);

const validate = z.strictObject({
  continueDistributeOnFailure: z.boolean().optional(),
  sourceValidationOnly: z.boolean().optional(),
  inVMValidations: z.array(validationStepSchema).max(LIMITS.maxValidations).optional(),
});

// ---- distribution ----

const storageAccountType = z.enum(['Standard_LRS', 'Standard_ZRS', 'Premium_LRS']);
const sharedImage = z.strictObject({
  type: z.literal('SharedImage'),
  galleryImageId: galleryImageOrVersionId,
  runOutputName,
  artifactTags: stringMap.optional(),
  replicationRegions: z.array(region).min(1).max(LIMITS.maxRegions).optional(),
  targetRegions: z
    .array(
      z.strictObject({
        name: region,
        replicaCount: z.number().int().min(1).max(100).optional(),
        storageAccountType: storageAccountType.optional(),
      }),
    )
    .min(1)
    .max(LIMITS.maxRegions)
    .optional(),
  storageAccountType: storageAccountType.optional(),
  excludeFromLatest: z.boolean().optional(),
  versioning: z
    .discriminatedUnion('scheme', [
      // major -1 is AIB's "any major version".
      z.strictObject({ scheme: z.literal('Latest'), major: z.number().int().min(-1).optional() }),
      z.strictObject({ scheme: z.literal('Source') }),
    ])
    .optional(),
});
const managedImage = z.strictObject({
  type: z.literal('ManagedImage'),
  imageId: armIdOf('managedImage', 'a managed image (Microsoft.Compute/images)'),
  location: region,
  runOutputName,
  artifactTags: stringMap.optional(),
});
const vhd = z.strictObject({
  type: z.literal('VHD'),
  runOutputName,
  uri: httpsUriOrEmpty.optional(),
  artifactTags: stringMap.optional(),
});
export const distributionSchema = z.discriminatedUnion('type', [sharedImage, managedImage, vhd]);

// ---- build VM, error handling ----

const vmProfile = z.strictObject({
  vmSize: z.string().optional(),
  osDiskSizeGB: z.number().int().min(0).max(4095).optional(),
  vnetConfig: z.strictObject({ subnetId: armIdOf('subnet', 'a subnet') }).optional(),
  userAssignedIdentities: z.array(armIdOf('userAssignedIdentity', 'a user-assigned managed identity')).optional(),
});
const errorAction = z.enum(['cleanup', 'abort']);
const errorHandling = z.strictObject({ onCustomizerError: errorAction.optional(), onValidationError: errorAction.optional() });

// ---- Kiln extensions ----

const secretRef = z.union([
  z.strictObject({
    vault: matching(VAULT_NAME, 'must be a Key Vault name', '3-24 letters, digits or "-"'),
    name: matching(SECRET_NAME, 'must be a secret name', '1-127 letters, digits or "-"'),
    version: matching(SECRET_VERSION, 'must be a secret version', '32 hexadecimal characters').optional(),
  }),
  secretUri,
], { message: 'must be a Key Vault secret URI https://{vault}.vault.azure.net/secrets/{name}[/{version}] or an object { vault, name, version? }' });
const rolloutTarget = z.strictObject({
  scaleSetId: armIdOf('scaleSet', 'a virtual machine scale set'),
  batchPercent: z.number().int().min(1).max(100).optional(),
  maxUnhealthyPercent: z.number().int().min(0).max(100).optional(),
  pauseBetweenBatches: isoDuration.optional(),
  rollbackOnFailure: z.boolean().optional(),
  /** auto: follow the scale set's own upgrade policy; batches: Kiln's batches whatever the policy says. */
  mode: z.enum(['auto', 'batches']).optional(),
});
const approval = z.strictObject({ required: z.boolean(), timeout: isoDuration.optional() });
const schedule = z.strictObject({ patch: ncrontab.optional(), onSourceUpdate: z.boolean().optional() });
const notify = z.strictObject({ webhooks: z.array(webhookUri).max(LIMITS.maxWebhooks) });

// ---- the template ----

export const propertiesSchema = z.strictObject({
  source: sourceSchema,
  customize: z.array(customizerSchema).max(LIMITS.maxCustomizers).optional(),
  validate: validate.optional(),
  distribute: z.array(distributionSchema).min(1).max(LIMITS.maxDistributions),
  vmProfile: vmProfile.optional(),
  buildTimeoutInMinutes: z.number().int().min(0).max(960).optional(),
  stagingResourceGroup: armIdOf('resourceGroup', 'a resource group').optional(),
  managedResourceTags: stringMap.optional(),
  errorHandling: errorHandling.optional(),
  secrets: z.record(secretVariable, secretRef).optional(),
  rollout: z.array(rolloutTarget).max(LIMITS.maxRolloutTargets).optional(),
  approval: approval.optional(),
  schedule: schedule.optional(),
  notify: notify.optional(),
});

/** The whole imageTemplate resource. Its `identity` is what AIB itself runs as; Kiln checks it but runs as its own identity. */
export const resourceSchema = z.strictObject({
  type: matching(/^Microsoft\.VirtualMachineImages(\/imageTemplates)?$/i, 'must be the imageTemplate resource type', 'Microsoft.VirtualMachineImages/imageTemplates (or Microsoft.VirtualMachineImages)').optional(),
  apiVersion: nonEmpty.optional(),
  // ARM template bookkeeping around the resource (quickstarts have it); it has no meaning for a bake.
  dependsOn: z.array(z.string()).optional(),
  name: nonEmpty.optional(),
  location: region.optional(),
  tags: stringMap.optional(),
  identity: z
    .strictObject({
      type: z.enum(['UserAssigned', 'None']),
      userAssignedIdentities: z.record(armIdOf('userAssignedIdentity', 'a user-assigned managed identity'), z.object({})).optional(),
    })
    .optional(),
  properties: propertiesSchema,
});

export type TemplateProperties = z.infer<typeof propertiesSchema>;

/** Every field name the schema knows, for "did you mean …" on an unknown one. */
function fieldNames(schema: z.ZodType, into = new Set<string>()): Set<string> {
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
  const walk = (inner: unknown) => fieldNames(inner as z.ZodType, into);
  switch (def.type) {
    case 'object':
      for (const [key, value] of Object.entries(def.shape as Record<string, unknown>)) {
        into.add(key);
        walk(value);
      }
      break;
    case 'optional':
    case 'nullable':
      walk(def.innerType);
      break;
    case 'array':
      walk(def.element);
      break;
    case 'union':
      for (const option of def.options as unknown[]) walk(option);
      break;
    case 'record':
      walk(def.valueType);
      break;
  }
  return into;
}

export const FIELD_NAMES: ReadonlySet<string> = fieldNames(resourceSchema);
