/** Activities that keep the run's durable copy: load a record (resume), save it (once per step boundary), save progress. */

import { progressLine, progressLogOf, stampProgress } from '../runs/timeline.ts';
import type { LoadRunRecordInput, LoadRunRecordOutput, SaveRunProgressInput, SaveRunRecordInput } from './contracts.ts';
import { activityEnvironment } from './environment.ts';

/** The activities' one run store (clients and container shared with every other activity of the process). */
const runStore = () => activityEnvironment().runStore();

export async function loadRunRecord(input: LoadRunRecordInput): Promise<LoadRunRecordOutput> {
  return (await (await runStore()).get(input.runId)) ?? null;
}

export async function saveRunRecord(record: SaveRunRecordInput): Promise<void> {
  await (await runStore()).put(record);
}

/**
 * Saves a slice stamped with its times, then adds a line for the change to the step's log: written after the slice,
 * so a retried save finds nothing changed and the line is not written twice.
 */
export async function saveRunProgress(input: SaveRunProgressInput): Promise<void> {
  const store = await runStore();
  const now = new Date().toISOString();
  const previous = await store.readProgressSlice(input.runId, input.key);
  const stamped = stampProgress(previous, input.progress, now);
  const line = progressLine(previous, stamped, now);
  // Two blobs, written at once.
  await Promise.all([store.putProgress(input.runId, input.key, stamped), line ? store.appendLog(input.runId, progressLogOf(stamped), line) : undefined]);
}
