/** Activities that keep the run's durable copy: load a record (resume), save it at each step change, save progress. */

import { loadConfig } from '../config.ts';
import { createAzureClients } from '../azure/clients.ts';
import { openRunStore, type RunStore } from '../runs/store.ts';
import type { LoadRunRecordInput, LoadRunRecordOutput, SaveRunProgressInput, SaveRunRecordInput } from './contracts.ts';

let store: Promise<RunStore> | undefined;

/** One store per process, made from the settings on first use. */
function runStore(): Promise<RunStore> {
  store ??= openRunStore(createAzureClients(loadConfig()).blobs).catch((error: unknown) => {
    store = undefined;
    throw error;
  });
  return store;
}

export async function loadRunRecord(input: LoadRunRecordInput): Promise<LoadRunRecordOutput> {
  return (await (await runStore()).get(input.runId)) ?? null;
}

export async function saveRunRecord(record: SaveRunRecordInput): Promise<void> {
  await (await runStore()).put(record);
}

export async function saveRunProgress(input: SaveRunProgressInput): Promise<void> {
  await (await runStore()).putProgress(input.runId, input.key, input.progress);
}
