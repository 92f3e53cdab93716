/** The stores and clients the ways in share, built once per process from Kiln's settings. */

import { activityEnvironment } from '../activities/environment.ts';
import type { KilnConfig } from '../config.ts';
import type { AzureClients } from '../azure/clients.ts';
import type { RunStore } from '../runs/store.ts';
import { openTemplateStore, type TemplateStore } from '../runs/templates.ts';
import { openOnce } from '../open-once.ts';

export interface Services {
  config: KilnConfig;
  azure: AzureClients;
  runs: RunStore;
  templates: TemplateStore;
}

/**
 * Opens the stores on first use (the containers are created if missing); a failure is retried on the next call. The
 * settings, clients and run store are the activities' own (one set per process, one open of the runs container).
 */
export const services: () => Promise<Services> = openOnce(async () => {
  const env = activityEnvironment();
  const [runs, templates] = await Promise.all([env.runStore(), openTemplateStore(env.clients.blobs)]);
  return { config: env.config, azure: env.clients, runs, templates };
});
