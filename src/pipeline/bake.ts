/**
 * Orchestration `bake`: one golden image from template to fleet. It reads top to bottom like docs/design.md §1; each step
 * is in src/pipeline/bake-steps.ts, and every wait in it is a durable timer under its own watchdog.
 *
 * Deterministic: time is context.df.currentUtcDateTime, names and versions come from the plan activity, settings
 * (poll bounds) arrive in the plan; no I/O here. A `cancel` event is heard at every step and wait, then cleanup
 * runs and the run ends Canceled. Cleanup always runs: success, failure, cancel.
 */

import type { OrchestrationContext } from 'durable-functions';
import type { RunRecord } from '../runs/record.ts';
import { BAKE_STEPS, type StepName } from '../runs/progress.ts';
import { BakeRun } from './bake-run.ts';
import {
  approve,
  capture,
  cleanup,
  customize,
  generalize,
  lock,
  plan,
  promote,
  replicate,
  rollout,
  stage,
  unlock,
  validate,
} from './bake-steps.ts';
import type { BakeInput } from './contracts.ts';
import type { Flowing } from './flow.ts';

/** What each step does; their order is BAKE_STEPS' (src/runs/progress.ts), and a step without a body does not compile. */
const STEP_BODIES: { [K in StepName]: (run: BakeRun) => Flowing<void> } = {
  plan, //       names, staging group, VM, next version
  lock, //       one bake per gallery image at a time (waits)
  stage, //      group → network → VM
  customize, //  one Run Command per customizer
  validate, //   inVMValidations, errorHandling
  generalize, // detached deprovision → stopped → deallocate → generalize
  capture, //    image version (excluded from latest until promote)
  replicate, //  every region in parallel
  promote, //    excludeFromLatest=false
  approve, //    optional gate, with timeout
  rollout, //    every scale set in parallel, rollback on failure
  cleanup, //    delete the staging group, wait until it is gone
};

export function* bake(context: OrchestrationContext): Flowing<RunRecord> {
  const run = new BakeRun(context, context.df.getInput() as BakeInput);
  try {
    // Every step in order but cleanup, which runs whatever happened before it.
    for (const name of BAKE_STEPS) {
      if (name !== 'cleanup') yield* run.step(name, () => STEP_BODIES[name](run));
    }
  } catch (error) {
    run.failed(error);
  }
  run.flow.stopListeningForCancel();
  yield* run.step('cleanup', () => STEP_BODIES.cleanup(run));
  // The final record is saved with the first lock release: it is on disk before the next waiter is woken.
  return yield* run.finish(() => unlock(run));
}
