/** What every activity works with: the settings, the Azure clients and the run store, made once per process. */

import { createAzureClients, type AzureClients } from '../azure/clients.ts';
import { loadConfig, type KilnConfig } from '../config.ts';
import { openOnce } from '../open-once.ts';
import { openRunStore, type RunStore } from '../runs/store.ts';

export interface ActivityEnvironment {
  config: KilnConfig;
  clients: AzureClients;
  runStore(): Promise<RunStore>;
}

let current: ActivityEnvironment | undefined;

export function createActivityEnvironment(config: KilnConfig, clients: AzureClients = createAzureClients(config)): ActivityEnvironment {
  // A storage hiccup must not poison every later activity: a failed open is tried again.
  return { config, clients, runStore: openOnce(() => openRunStore(clients.blobs)) };
}

/** The process's environment, from the settings (app settings on Azure, the local host's settings locally). */
export function activityEnvironment(): ActivityEnvironment {
  current ??= createActivityEnvironment(loadConfig());
  return current;
}

/** Tests and tools that run activities in-process point them at their own emulator and storage. */
export function setActivityEnvironment(env: ActivityEnvironment | undefined): void {
  current = env;
}
