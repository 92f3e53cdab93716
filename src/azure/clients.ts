/** Builds the Azure SDK clients Kiln uses from its settings: managed identity on Azure, a static token + CA otherwise. */

import { readFileSync } from 'node:fs';
import { ComputeManagementClient } from '@azure/arm-compute';
import { ResourceManagementClient } from '@azure/arm-resources';
import { getClient } from '@azure-rest/core-client';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import type { HttpClient, PipelinePolicy } from '@azure/core-rest-pipeline';
import { DefaultAzureCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { BlobServiceClient } from '@azure/storage-blob';
import type { KilnConfig } from '../config.ts';
import { createAuthorizationClient, type AuthorizationClient } from './permissions.ts';
import { retryAfterPolicy } from './retryAfter.ts';

/** The clients every adapter in src/azure works through. */
export interface AzureClients {
  subscriptionId: string;
  compute: ComputeManagementClient;
  resources: ResourceManagementClient;
  /** Microsoft.Authorization reads (no SDK is needed for one GET: the SDKs' own REST client, same pipeline). */
  authorization: AuthorizationClient;
  blobs: BlobServiceClient;
  /** A Key Vault client for a vault named in a template (`kiln-secrets`), or the vault a secret URI points at. */
  secrets(vault: string): SecretClient;
}

/** Test seams: a recording policy or a fake transport. Production code passes nothing. */
export interface AzureClientOverrides {
  additionalPolicies?: PipelinePolicy[];
  httpClient?: HttpClient;
}

/** A credential that hands out a fixed token (the local emulator accepts it); it ignores the scope. */
export function staticTokenCredential(token: string): TokenCredential {
  return {
    // A far expiry keeps the SDK's token cycler from refreshing on every request.
    getToken: async (): Promise<AccessToken> => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }),
  };
}

/** The vault URL for a vault name or secret URI: the configured override (local emulator) wins. */
export function vaultUrlFor(config: Pick<KilnConfig, 'keyVaultUrlOverride'>, vault: string): string {
  if (config.keyVaultUrlOverride) return config.keyVaultUrlOverride.replace(/\/+$/, '');
  if (/^https:\/\//i.test(vault)) return new URL(vault).origin;
  return `https://${vault}.vault.azure.net`;
}

export function createAzureClients(config: KilnConfig, overrides: AzureClientOverrides = {}): AzureClients {
  const credential = config.staticToken
    ? staticTokenCredential(config.staticToken)
    : new DefaultAzureCredential(
        config.managedIdentityClientId ? { managedIdentityClientId: config.managedIdentityClientId } : {},
      );
  const ca = config.caCertPath ? readFileSync(config.caCertPath, 'utf8') : undefined;
  const pipelineOptions = {
    ...(ca ? { tlsOptions: { ca } } : {}),
    ...(overrides.httpClient ? { httpClient: overrides.httpClient } : {}),
    additionalPolicies: [retryAfterPolicy, ...(overrides.additionalPolicies ?? [])].map((policy) => ({ policy, position: 'perCall' as const })),
  };
  const armOptions = {
    ...pipelineOptions,
    endpoint: config.armEndpoint,
    // The token audience stays the public ARM one whatever the endpoint; a static token ignores it anyway.
    credentials: { scopes: ['https://management.azure.com/.default'] },
  };
  const vaults = new Map<string, SecretClient>();
  return {
    subscriptionId: config.subscriptionId,
    compute: new ComputeManagementClient(credential, config.subscriptionId, armOptions),
    resources: new ResourceManagementClient(credential, config.subscriptionId, armOptions),
    authorization: createAuthorizationClient(getClient(config.armEndpoint, credential, armOptions)),
    blobs: createBlobServiceClient(config, credential),
    secrets(vault: string): SecretClient {
      const url = vaultUrlFor(config, vault);
      let client = vaults.get(url);
      if (!client) {
        client = new SecretClient(url, credential, {
          ...pipelineOptions,
          // A vault behind an override (the emulator on loopback) never matches the challenge's resource host.
          disableChallengeResourceVerification: config.keyVaultUrlOverride !== undefined,
        });
        vaults.set(url, client);
      }
      return client;
    },
  };
}

function createBlobServiceClient(config: KilnConfig, credential: TokenCredential): BlobServiceClient {
  if (config.storageConnectionString) return BlobServiceClient.fromConnectionString(config.storageConnectionString);
  if (config.storageBlobServiceUri) return new BlobServiceClient(config.storageBlobServiceUri, credential);
  throw new Error('blob storage: expected AzureWebJobsStorage or AzureWebJobsStorage__blobServiceUri, found neither');
}
