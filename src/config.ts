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
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function positiveNumber(env: Env, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`setting ${key}: expected a positive number, found ${JSON.stringify(raw)}`);
  }
  return value;
}

function optional(env: Env, key: string): string | undefined {
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
  return {
    subscriptionId,
    armEndpoint: optional(env, 'KILN_ARM_ENDPOINT') ?? 'https://management.azure.com',
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
  };
}
