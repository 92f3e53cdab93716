/**
 * Giving a run's image locks back and waking, per image, the bake now first in line: the bake does it at its end,
 * and the janitor, through orchestration `releaseBakeLocks`, for a run that ended without (only an orchestration
 * hears the entity's answer naming the next waiter; a client signal would release without waking anyone).
 */

import type { OrchestrationContext } from 'durable-functions';
import { Activity } from '../activities/contracts.ts';
import type { ReleaseRequest, ReleaseResult } from './bake-lock.ts';
import { Entity, type ReleaseBakeLocksInput } from './contracts.ts';
import { Flow, type Flowing } from './flow.ts';

/**
 * Releases the run's lock (or its place in the queue) on every key, and wakes the next waiter each release names.
 * A failure (the final record save travels beside the first release) does not stop the others: every lock is given
 * back, then the first failure is rethrown.
 */
export function* releaseLocks(flow: Flow, runId: string, keys: string[]): Flowing<void> {
  const request: ReleaseRequest = { runId };
  let failure: { error: unknown } | undefined;
  for (const key of keys) {
    try {
      const { next } = (yield* flow.entity<ReleaseResult | null>(Entity.bakeLock, key, 'release', request, { cancellable: false })) ?? {};
      if (next) yield* flow.call(Activity.wakeLockWaiter, { runId: next }, { cancellable: false });
    } catch (error) {
      // Go on: a lock left held would block its image until the janitor; a lost wake is made up by the waiter's slow timer.
      failure ??= { error };
    }
  }
  if (failure) throw failure.error;
}

/** Orchestration `releaseBakeLocks`. */
export function* releaseBakeLocks(context: OrchestrationContext): Flowing<void> {
  const input = context.df.getInput() as ReleaseBakeLocksInput;
  const flow = new Flow(context, { minMs: 1_000, maxMs: 30_000 });
  flow.stopListeningForCancel();
  yield* releaseLocks(flow, input.runId, input.keys);
}
