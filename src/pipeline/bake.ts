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

export function* bake(context: OrchestrationContext): Flowing<RunRecord> {
  const run = new BakeRun(context, context.df.getInput() as BakeInput);
  try {
    yield* run.step('plan', () => plan(run)); //            names, staging group, VM, next version
    yield* run.step('lock', () => lock(run)); //            one bake per gallery image at a time (waits)
    yield* run.step('stage', () => stage(run)); //          group → network → VM
    yield* run.step('customize', () => customize(run)); //  one Run Command per customizer
    yield* run.step('validate', () => validate(run)); //    inVMValidations, errorHandling
    yield* run.step('generalize', () => generalize(run)); // detached deprovision → stopped → deallocate → generalize
    yield* run.step('capture', () => capture(run)); //      image version (excluded from latest until promote)
    yield* run.step('replicate', () => replicate(run)); //  every region in parallel
    yield* run.step('promote', () => promote(run)); //      excludeFromLatest=false
    yield* run.step('approve', () => approve(run)); //      optional gate, with timeout
    yield* run.step('rollout', () => rollout(run)); //      every scale set in parallel, rollback on failure
  } catch (error) {
    run.failed(error);
  }
  run.flow.stopListeningForCancel();
  yield* run.step('cleanup', () => cleanup(run)); //        delete the staging group, wait until it is gone
  yield* unlock(run);
  return yield* run.finish();
}
