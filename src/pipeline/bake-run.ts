/**
 * One bake's state inside the orchestration: its run record (mirrored in the custom status at every change and saved
 * through an activity when a step starts, before a wait and at the end), the build deadline, which steps are skipped
 * and why, and how the run ends.
 */

import type { OrchestrationContext, Task } from 'durable-functions';
import { Activity, type ActivityName, type BakePlan, type StepName } from '../activities/contracts.ts';
import type { RunError, RunRecord, StepStatus } from '../runs/record.ts';
import { progressOf } from '../runs/status.ts';
import type { BakeSpec } from '../template/spec.ts';
import type { BakeInput } from './contracts.ts';
import { BakeCanceled, Flow, StepFailed, type Deadline, type Flowing } from './flow.ts';
import { imageLockKeys } from './bake-lock.ts';
import { newRunRecord, settlePendingSteps, stepOf, updateStep } from './journal.ts';
import type { ResumePlan } from './resume.ts';

/** Until the plan brings the configured bounds (the plan step itself never polls). */
const PLANLESS_POLL = { minMs: 1_000, maxMs: 30_000 };

/** At most this much of an unexpected error's text goes into the record. */
const MAX_MESSAGE = 2_000;

export class BakeRun {
  readonly input: BakeInput;
  readonly spec: BakeSpec;
  readonly flow: Flow;
  /** buildTimeoutInMinutes, counted from the start: caps every wait from plan to promote. */
  readonly buildDeadline: Deadline;
  record: RunRecord;
  plan?: BakePlan;
  resume?: ResumePlan;
  /** Entity keys of the bake locks queued for at acceptance and asked for (released at the end whatever happened). */
  readonly lockKeys: string[];
  /** The build VM was created: once the staging group is gone, its vCPUs are free for bakes waiting for quota. */
  buildVmMade = false;
  /** freeBuildVm told the quota line the build VM is gone: the bake's end does not tell it again. */
  buildVmAnnounced = false;
  /** At capture's end, the quota line's answer to whether anyone waits (QuotaWaitingResult), sent beside the delete. */
  quotaWaiters?: Task;
  /** Why the staging group is kept (errorHandling abort), when it is. */
  keepStagingReason?: string;
  /** A validation failure the template lets distribution continue past (continueDistributeOnFailure). */
  validationFailure?: StepFailed;
  private readonly skips = new Map<StepName, string>();
  private current?: StepName;
  private settled?: { status: StepStatus; message?: string };
  private waitingFor?: string;
  private ending?: { status: 'Failed' | 'Canceled'; error: RunError };
  /** The record as last saved: a save with nothing new is skipped (records are replaced, never mutated). */
  private saved?: RunRecord;

  constructor(context: OrchestrationContext, input: BakeInput) {
    this.input = input;
    this.spec = input.spec;
    this.flow = new Flow(context, PLANLESS_POLL);
    const now = this.flow.now();
    this.record = newRunRecord(input, now.toISOString());
    this.lockKeys = imageLockKeys(input.spec);
    this.buildDeadline = {
      at: new Date(now.getTime() + input.spec.buildTimeoutInMinutes * 60_000),
      reason: `buildTimeoutInMinutes (${input.spec.buildTimeoutInMinutes})`,
    };
  }

  /** These steps will not run; the record says why. The first reason given for a step stands. */
  skip(steps: StepName[], reason: string): void {
    for (const step of steps) if (!this.skips.has(step)) this.skips.set(step, reason);
  }

  /**
   * Runs one step: Running → its body → Succeeded (or what the body settled). The start is saved together with the
   * step's first call; the end with whatever comes next (the next step's start, or finish), which follows without a
   * wait: no round trip of its own per step boundary, and no state change left unsaved.
   */
  *step<T>(name: StepName, body: () => Flowing<T>): Flowing<T | undefined> {
    const reason = this.skips.get(name);
    if (reason !== undefined) {
      this.record = updateStep(this.record, name, { status: 'Skipped', message: reason });
      return undefined;
    }
    this.current = name;
    this.settled = undefined;
    this.record = updateStep(this.record, name, { status: 'Running', startedAt: this.flow.now().toISOString() });
    yield* this.saveAlongside();
    const value = yield* body();
    const { status, message }: { status: StepStatus; message?: string } = this.settled ?? this.simulatedOutcome(name) ?? { status: 'Succeeded' };
    this.record = updateStep(this.record, name, {
      status,
      endedAt: this.flow.now().toISOString(),
      ...(message !== undefined ? { message } : {}),
    });
    this.current = undefined;
    this.waitingFor = undefined;
    this.showProgress();
    return value;
  }

  /** A step some of whose scripts were not run ends Simulated, naming them; never Succeeded. */
  private simulatedOutcome(name: StepName): { status: StepStatus; message: string } | undefined {
    const simulated = (this.record.simulatedSteps ?? []).filter((s) => s.step === name);
    if (simulated.length === 0) return undefined;
    return { status: 'Simulated', message: `not run (simulated): ${simulated.map((s) => s.operation).join('; ')}` };
  }

  /** How the running step ends when its body returns (a message on success, or Failed-but-continue). */
  settle(status: StepStatus, message?: string): void {
    this.settled = { status, ...(message !== undefined ? { message } : {}) };
  }

  /** A long-running operation of the current step, capped by the build deadline; its attempts are counted. */
  *operation(label: string, activity: ActivityName, input: unknown, watchdogMs: number, capped = true): Flowing<void> {
    const step = this.currentStep();
    const { attempts, simulated } = yield* this.flow.operation(step, label, activity, input, watchdogMs, capped ? this.buildDeadline : undefined);
    this.record = updateStep(this.record, step, { attempts: stepOf(this.record, step).attempts + attempts });
    if (simulated) {
      this.record = { ...this.record, simulatedSteps: [...(this.record.simulatedSteps ?? []), { step, operation: label, reason: simulated }] };
    }
  }

  /** Shows why the bake is waiting (custom status) until the step ends. */
  *waiting(what: string): Flowing<void> {
    this.waitingFor = what;
    yield* this.save();
  }

  /** The plan; every step after `plan` has one. */
  planned(): BakePlan {
    if (!this.plan) throw new Error(`run ${this.input.runId}: step ${this.current ?? '?'} needs the plan, and there is none`);
    return this.plan;
  }

  currentStep(): StepName {
    if (!this.current) throw new Error('no step is running');
    return this.current;
  }

  /**
   * Records how the bake went wrong: the step ends Canceled or Failed now; the run's status and error are set by
   * finish(), after cleanup, so nobody sees a final status on a record that is still changing.
   */
  failed(error: unknown): void {
    const step = this.current ?? 'plan';
    const now = this.flow.now().toISOString();
    if (error instanceof BakeCanceled) {
      this.ending = { status: 'Canceled', error: { step, code: 'Canceled', message: `canceled during step ${step}` } };
      this.record = updateStep(this.record, step, { status: 'Canceled', endedAt: now });
    } else {
      const failure = error instanceof StepFailed ? runError(error) : { step, ...unexpectedFailure(error) };
      this.ending = { status: 'Failed', error: failure };
      this.record = updateStep(this.record, step, { status: 'Failed', endedAt: now, message: failure.message });
    }
    this.current = undefined;
    this.waitingFor = undefined;
  }

  /**
   * Settles the record once cleanup is done: final status and error, pending steps, end time; saves it, together with
   * the first call of `alongside` (the lock release), so the final save costs no round trip of its own.
   */
  *finish(alongside: () => Flowing<void> = function* () {}): Flowing<RunRecord> {
    const ending =
      this.ending ?? (this.validationFailure ? { status: 'Failed' as const, error: runError(this.validationFailure) } : undefined);
    const status = ending?.status ?? 'Succeeded';
    const settled = settlePendingSteps(this.record, status === 'Canceled' ? 'Canceled' : 'Skipped');
    this.record = { ...settled, status, endedAt: this.flow.now().toISOString(), ...(ending ? { error: ending.error } : {}) };
    yield* this.saveAlongside();
    yield* alongside();
    yield* this.flow.flush();
    if (this.spec.notify?.webhooks.length) {
      try {
        yield* this.flow.call(Activity.notifyCompletion, { record: this.record }, { cancellable: false });
      } catch {
        // The record above is final; a notification that cannot even be queued must not turn the bake into a failure.
      }
    }
    return this.record;
  }

  /** The durable copy (an activity, never interrupted by a cancel), unless nothing changed since, and the custom status. */
  *save(): Flowing<void> {
    this.showProgress();
    yield* this.flow.flush();
    if (this.record === this.saved) return;
    const record = this.record;
    yield* this.flow.call(Activity.saveRunRecord, record, { cancellable: false });
    this.saved = record;
  }

  /** As save, but the activity runs together with the step's first call rather than before it. */
  private *saveAlongside(): Flowing<void> {
    this.showProgress();
    if (this.record === this.saved) return;
    const record = this.record;
    yield* this.flow.callAlongside(Activity.saveRunRecord, record);
    this.saved = record;
  }

  private showProgress(): void {
    this.flow.context.df.setCustomStatus(progressOf(this.record, this.waitingFor));
  }
}

function runError(error: StepFailed): RunError {
  const { code, message, exitCode, lastLines } = error.failure;
  return {
    step: error.step,
    code,
    message,
    ...(exitCode !== undefined ? { exitCode } : {}),
    ...(lastLines ? { lastLines } : {}),
  };
}

/**
 * An error nobody classified (an activity that kept throwing through its retries): its code and first line. An
 * activity's failure arrives as "Activity function 'X' failed: {errorType, errorMessage, properties}" when the app
 * registers an exception-properties provider; the JSON's message and code are what a reader needs.
 */
export function unexpectedFailure(error: unknown): { code: string; message: string } {
  const first = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
  const activity = /^(Activity function '[^']+' failed): (\{.*\})$/.exec(first);
  if (activity) {
    try {
      const details = JSON.parse(activity[2]!) as { errorType?: string; errorMessage?: string; properties?: { code?: string } };
      return {
        code: details.properties?.code ?? details.errorType ?? 'ActivityFailed',
        message: `${activity[1]}: ${details.errorMessage ?? 'no message'}`.slice(0, MAX_MESSAGE),
      };
    } catch {
      // Not the provider's JSON after all: fall through to the plain text.
    }
  }
  return { code: 'Unexpected', message: first.slice(0, MAX_MESSAGE) || 'unexpected error' };
}
