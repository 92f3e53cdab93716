/** The stores and clients the ways in share, built once per process from Kiln's settings. */

import { loadConfig, type KilnConfig } from '../config.ts';
import { createAzureClients, type AzureClients } from '../azure/clients.ts';
import { openRunStore, type RunStore } from '../runs/store.ts';
import { openTemplateStore, type TemplateStore } from '../runs/templates.ts';
import { openOnce } from '../open-once.ts';

export interface Services {
  config: KilnConfig;
  azure: AzureClients;
  runs: RunStore;
  templates: TemplateStore;
}

/** Opens the stores on first use (the containers are created if missing); a failure is retried on the next call. */
export const services: () => Promise<Services> = openOnce(async () => {
  const config = loadConfig(process.env);
  const azure = createAzureClients(config);
  const [runs, templates] = await Promise.all([openRunStore(azure.blobs), openTemplateStore(azure.blobs)]);
  return { config, azure, runs, templates };
});
