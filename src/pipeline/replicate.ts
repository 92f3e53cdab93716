/**
 * Sub-orchestration `replicateRegion`: watches one target region of a gallery image version until its replica is
 * complete, failed, or its watchdog passes, and publishes the region's progress as it changes. Looks follow the 2 %
 * rule and the end the progress predicts (src/pipeline/polling.ts nextLook).
 */

import type { OrchestrationContext } from 'durable-functions';
import { Activity, type ReadReplicationInput, type ReadReplicationOutput, type RegionProgress } from '../activities/contracts.ts';
import { BakeCanceled, Flow, type Flowing } from './flow.ts';
import { LOOKS_PER_EXECUTION, nextLook, type PollBounds } from './polling.ts';

export interface ReplicateRegionInput {
  runId: string;
  imageVersionId: string;
  region: string;
  poll: PollBounds;
  deadline: string;
  deadlineReason: string;
  /** Set when continuing as new: when the watch began, the progress last published, the percent already watched at. */
  startedAt?: string;
  last?: RegionProgress;
  watched?: number;
}

export interface ReplicateRegionOutput {
  region: string;
  state: 'Completed' | 'Failed' | 'TimedOut' | 'Canceled';
  message?: string;
  /** The region's final progress, saved by the bake with its next call (the watch ends without a save of its own). */
  progress?: { key: string; progress: RegionProgress };
}

export function* replicateRegion(context: OrchestrationContext): Flowing<ReplicateRegionOutput | undefined> {
  const input = context.df.getInput() as ReplicateRegionInput;
  const flow = new Flow(context, input.poll);
  const { region } = input;
  const deadline = new Date(input.deadline);
  const startedAt = input.startedAt ?? flow.now().toISOString();
  let last = input.last;
  let watchMs = 0;
  let watched = input.watched;
  try {
    for (let look = 0; ; look++) {
      if (look >= LOOKS_PER_EXECUTION) {
        context.df.continueAsNew({ ...input, startedAt, ...(last ? { last } : {}), ...(watched !== undefined ? { watched } : {}) } satisfies ReplicateRegionInput);
        return undefined;
      }
      const read = yield* flow.call<ReadReplicationOutput>(Activity.readReplication, {
        imageVersionId: input.imageVersionId,
        region,
        ...(watchMs > 0 ? { watchMs } : {}),
      } satisfies ReadReplicationInput);
      if (!read.ok) return { region, state: 'Failed', message: read.error.message };
      const { state, percent, details } = read.value;
      const progress: RegionProgress = {
        kind: 'region',
        region,
        state: state === 'Unknown' ? 'Queued' : state,
        percent,
        ...(details ? { message: details } : {}),
      };
      const key = `region-${slug(region)}`;
      // Every state change counts; the percent in steps (a save is storage requests, and a look may come every few ms).
      const changed = !last || last.state !== progress.state || step(last.percent) !== step(progress.percent);
      // A region that ends after a wait hands its last progress to the bake (saved with the bake's next call); one
      // found ended at the first look (the source region) saves it here, while the other regions still replicate.
      const handBack = changed && look > 0 && (state === 'Completed' || state === 'Failed');
      if (changed && !handBack) {
        yield* flow.call(Activity.saveRunProgress, { runId: input.runId, key, progress });
        last = progress;
      }
      const handed = handBack ? { progress: { key, progress } } : {};
      if (state === 'Completed') return { region, state, ...handed };
      if (state === 'Failed') return { region, state, message: details ?? `replication to ${region} failed`, ...handed };
      const now = flow.now().getTime();
      if (now >= deadline.getTime()) {
        return { region, state: 'TimedOut', message: `replication to ${region} did not finish within ${input.deadlineReason}` };
      }
      // Azure reports the region's progress: look at its estimated end too, quickly across it (readReplication's watch).
      const next = nextLook(now - Date.parse(startedAt), input.poll, { percent }, watched);
      watchMs = next.watchMs;
      if (watchMs > 0) watched = Math.floor(percent);
      if (next.delayMs > 0) yield* flow.sleepUntil(new Date(Math.min(now + next.delayMs, deadline.getTime())));
    }
  } catch (error) {
    if (error instanceof BakeCanceled) return { region, state: 'Canceled' };
    throw error;
  }
}

/** Replication progress is saved when it crosses one of these steps (percent). */
const PROGRESS_STEP = 10;
const step = (percent: number) => Math.floor(percent / PROGRESS_STEP);

/** A region name as a blob-name-safe key. */
export function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}
