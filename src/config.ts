/** Every setting Kiln reads, in one place: parsed and checked once, then passed around as a typed object. */

export interface KilnConfig {
  /** Azure subscription that holds staging groups, galleries and scale sets. */
  subscriptionId: string;
  /** ARM endpoint; Azure's public cloud unless pointed at the local emulator. */
  armEndpoint: string;
  /** When set, every Key Vault reference resolves against this vault URL (the local emulator). */
  keyVaultUrlOverride?: string;
  /** PEM file with an extra CA to trust for ARM and Key Vault (the local emulator's self-signed CA). */
  caCertPath?: string;
  /** Static bearer token for the local emulator; on Azure it is unset and managed identity is used. */
  staticToken?: string;
  /** Client id of the user-assigned managed identity (Azure). */
  managedIdentityClientId?: string;
  /** Blob storage: a connection string (Azurite, local) … */
  storageConnectionString?: string;
  /** … or the blob service URI for an identity-based connection (Azure). */
  storageBlobServiceUri?: string;
  /** Durable task hub name. */
  taskHub: string;
  /** How long a staging resource group may live before the janitor deletes it. */
  stagingTtlHours: number;
  /** Polling interval bounds for long waits (durable timers between status checks). */
  pollMinMs: number;
  pollMaxMs: number;
  /** Shortest interval between the looks an activity takes itself at an operation it began (src/activities/quick-looks.ts). */
  pollQuickMs: number;
  /** How long a finished bake's durable instances are kept after it ended; then the janitor purges them. */
  instanceRetentionHours: number;
  /** How long a build VM create refused for vCPU quota waits for the quota to free up before the bake fails. */
  quotaWaitMinutes: number;
  /** Whether webhooks may target private addresses (RFC 1918, loopback, unique-local); link-local never. */
  allowPrivateTargets: boolean;
}

/** Where a setting is given: on Azure by infra/main.bicep, locally by local.settings.json / `kiln up`, or both. */
export type SettingScope = 'azure' | 'local' | 'both';

/**
 * Every setting loadConfig reads. test/unit/settings.test.ts checks this list against infra/ (settings with scope
 * azure or both) and local.settings.example.json (all of them). Add a setting here first: the readers below accept only these keys.
 */
export const SETTINGS = [
  { key: 'KILN_SUBSCRIPTION_ID', scope: 'both', doc: 'Subscription that holds staging groups, galleries and scale sets.' },
  { key: 'KILN_ARM_ENDPOINT', scope: 'both', doc: 'ARM endpoint; default https://management.azure.com. The local emulator URL locally.' },
  { key: 'KILN_KEYVAULT_URL', scope: 'local', doc: 'Resolve every Key Vault reference against this vault URL (the local emulator). Unset on Azure: vault names resolve to https://{vault}.vault.azure.net.' },
  { key: 'KILN_CA_CERT_PATH', scope: 'local', doc: "PEM file of an extra CA to trust for ARM and Key Vault (the local emulator's CA). Unset on Azure." },
  { key: 'KILN_STATIC_TOKEN', scope: 'local', doc: 'Static bearer token for the local emulator. Unset on Azure, where the managed identity is used.' },
  { key: 'AZURE_CLIENT_ID', scope: 'azure', doc: 'Client id of the user-assigned managed identity Kiln acts as.' },
  { key: 'AzureWebJobsStorage', scope: 'local', doc: 'Storage connection string (Azurite). On Azure the identity-based AzureWebJobsStorage__* settings replace it.' },
  { key: 'AzureWebJobsStorage__blobServiceUri', scope: 'azure', doc: 'Blob endpoint of the host storage account (identity-based connection); holds the templates and runs containers.' },
  { key: 'KILN_TASK_HUB', scope: 'both', doc: 'Durable task hub name (host.json reads it too); default kiln.' },
  { key: 'KILN_STAGING_TTL_HOURS', scope: 'both', doc: 'Hours a staging resource group may live before the janitor deletes it; default 24.' },
  { key: 'KILN_POLL_MIN_MS', scope: 'both', doc: 'Shortest interval between status checks of long Azure operations, in ms; default 2000.' },
  { key: 'KILN_POLL_MAX_MS', scope: 'both', doc: 'Longest interval between status checks, in ms; default 30000.' },
  { key: 'KILN_POLL_QUICK_MS', scope: 'local', doc: 'Shortest interval between the looks an activity takes itself at an operation it began (for up to 20 × KILN_POLL_MIN_MS, before durable timers take over), in ms; at most KILN_POLL_MIN_MS. Default KILN_POLL_MIN_MS: on Azure no more reads than the durable poller makes; 10 on the local default.' },
  { key: 'KILN_INSTANCE_RETENTION_HOURS', scope: 'both', doc: "Hours a finished bake's durable instances (history, inputs) are kept once its run record is final; then the janitor purges them. Default 168." },
  { key: 'KILN_QUOTA_WAIT_MINUTES', scope: 'both', doc: "Minutes a build VM create refused for vCPU quota (other bakes' VMs use it up) waits for quota to free up, retrying on a back-off of 15 s doubling to 2 min, before the bake fails; default 60." },
  { key: 'KILN_ALLOW_PRIVATE_TARGETS', scope: 'both', doc: 'true lets notify webhooks reach private addresses (10/8, 172.16/12, 192.168/16, loopback, fc00::/7); link-local and metadata addresses are refused whatever it says. Default false (kiln up sets true).' },
  { key: 'KILN_LOCAL_FUNCTION_KEY', scope: 'local', doc: 'Function key of the local Functions host (read by local/host, not loadConfig); default: generated once and kept in {home}/keys.json.' },
  { key: 'KILN_LOCAL_ADMIN_KEY', scope: 'local', doc: 'Admin key of the local Functions host (read by local/host); default: generated once and kept in {home}/keys.json.' },
  { key: 'KILN_LOCAL_SYSTEM_KEY', scope: 'local', doc: "System key of the local host's durable extension, for /runtime/webhooks/durabletask (read by local/host); default: generated once and kept in {home}/keys.json." },
  { key: 'KILN_LOCAL_BLOB_POLL_MS', scope: 'local', doc: 'How often the local Functions host lists containers for blob triggers, in ms (read by local/host); default 1000.' },
] as const satisfies readonly { key: string; scope: SettingScope; doc: string }[];

export type SettingKey = (typeof SETTINGS)[number]['key'];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function positiveNumber(env: Env, key: SettingKey, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`setting ${key}: expected a positive number, found ${JSON.stringify(raw)}`);
  }
  return value;
}

function flag(env: Env, key: SettingKey, fallback: boolean): boolean {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new ConfigError(`setting ${key}: expected true or false, found ${JSON.stringify(raw)}`);
}

function optional(env: Env, key: SettingKey): string | undefined {
  const value = env[key];
  return value === undefined || value === '' ? undefined : value;
}

/** Reads Kiln's settings from the environment (app settings on Azure, local settings locally). */
export function loadConfig(env: Env = process.env): KilnConfig {
  const subscriptionId = optional(env, 'KILN_SUBSCRIPTION_ID');
  if (!subscriptionId) throw new ConfigError('setting KILN_SUBSCRIPTION_ID: expected a subscription id, found nothing');
  const storageConnectionString = optional(env, 'AzureWebJobsStorage');
  const storageBlobServiceUri = optional(env, 'AzureWebJobsStorage__blobServiceUri');
  if (!storageConnectionString && !storageBlobServiceUri) {
    throw new ConfigError(
      'settings AzureWebJobsStorage / AzureWebJobsStorage__blobServiceUri: expected one of them, found neither',
    );
  }
  const pollMinMs = positiveNumber(env, 'KILN_POLL_MIN_MS', 2_000);
  const pollMaxMs = positiveNumber(env, 'KILN_POLL_MAX_MS', 30_000);
  if (pollMaxMs < pollMinMs) {
    throw new ConfigError(`setting KILN_POLL_MAX_MS: expected at least KILN_POLL_MIN_MS (${pollMinMs}), found ${pollMaxMs}`);
  }
  const pollQuickMs = positiveNumber(env, 'KILN_POLL_QUICK_MS', pollMinMs);
  if (pollQuickMs > pollMinMs) {
    throw new ConfigError(`setting KILN_POLL_QUICK_MS: expected at most KILN_POLL_MIN_MS (${pollMinMs}), found ${pollQuickMs}`);
  }
  return {
    subscriptionId,
    armEndpoint: (optional(env, 'KILN_ARM_ENDPOINT') ?? 'https://management.azure.com').replace(/\/+$/, ''),
    keyVaultUrlOverride: optional(env, 'KILN_KEYVAULT_URL'),
    caCertPath: optional(env, 'KILN_CA_CERT_PATH'),
    staticToken: optional(env, 'KILN_STATIC_TOKEN'),
    managedIdentityClientId: optional(env, 'AZURE_CLIENT_ID'),
    storageConnectionString,
    storageBlobServiceUri,
    taskHub: optional(env, 'KILN_TASK_HUB') ?? 'kiln',
    stagingTtlHours: positiveNumber(env, 'KILN_STAGING_TTL_HOURS', 24),
    pollMinMs,
    pollMaxMs,
    pollQuickMs,
    instanceRetentionHours: positiveNumber(env, 'KILN_INSTANCE_RETENTION_HOURS', 168),
    quotaWaitMinutes: positiveNumber(env, 'KILN_QUOTA_WAIT_MINUTES', 60),
    allowPrivateTargets: flag(env, 'KILN_ALLOW_PRIVATE_TARGETS', false),
  };
}
