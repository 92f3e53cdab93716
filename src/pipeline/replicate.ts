/**
 * Sub-orchestration `replicateRegion`: watches one target region of a gallery image version until its replica is
 * complete, failed, or its watchdog passes, and publishes the region's progress as it changes.
 */

import type { OrchestrationContext } from 'durable-functions';
import { Activity, type ReadReplicationOutput, type RegionProgress } from '../activities/contracts.ts';
import { BakeCanceled, Flow, type Flowing } from './flow.ts';
import { LOOKS_PER_EXECUTION, nextPollDelay, type PollBounds } from './polling.ts';

export interface ReplicateRegionInput {
  runId: string;
  imageVersionId: string;
  region: string;
  poll: PollBounds;
  deadline: string;
  deadlineReason: string;
  /** Set when continuing as new: when the watch began, and the progress last published. */
  startedAt?: string;
  last?: RegionProgress;
}

export interface ReplicateRegionOutput {
  region: string;
  state: 'Completed' | 'Failed' | 'TimedOut' | 'Canceled';
  message?: string;
}

export function* replicateRegion(context: OrchestrationContext): Flowing<ReplicateRegionOutput | undefined> {
  const input = context.df.getInput() as ReplicateRegionInput;
  const flow = new Flow(context, input.poll);
  const { region } = input;
  const deadline = new Date(input.deadline);
  const startedAt = input.startedAt ?? flow.now().toISOString();
  let last = input.last;
  try {
    for (let look = 0; ; look++) {
      if (look >= LOOKS_PER_EXECUTION) {
        context.df.continueAsNew({ ...input, startedAt, ...(last ? { last } : {}) });
        return undefined;
      }
      const read = yield* flow.call<ReadReplicationOutput>(Activity.readReplication, {
        imageVersionId: input.imageVersionId,
        region,
      });
      if (!read.ok) return { region, state: 'Failed', message: read.error.message };
      const { state, percent, details } = read.value;
      const progress: RegionProgress = {
        kind: 'region',
        region,
        state: state === 'Unknown' ? 'Queued' : state,
        percent,
        ...(details ? { message: details } : {}),
      };
      if (!last || last.state !== progress.state || last.percent !== progress.percent) {
        yield* flow.call(Activity.saveRunProgress, { runId: input.runId, key: `region-${slug(region)}`, progress });
        last = progress;
      }
      if (state === 'Completed') return { region, state };
      if (state === 'Failed') return { region, state, message: details ?? `replication to ${region} failed` };
      const now = flow.now().getTime();
      if (now >= deadline.getTime()) {
        return { region, state: 'TimedOut', message: `replication to ${region} did not finish within ${input.deadlineReason}` };
      }
      yield* flow.sleepUntil(new Date(Math.min(now + nextPollDelay(now - Date.parse(startedAt), input.poll), deadline.getTime())));
    }
  } catch (error) {
    if (error instanceof BakeCanceled) return { region, state: 'Canceled' };
    throw error;
  }
}

/** A region name as a blob-name-safe key. */
export function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}
