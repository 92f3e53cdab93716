/**
 * The building blocks every Kiln orchestration is written with: an activity call that retries transient failures
 * and gives way to a cancel, a long-running operation awaited under its own watchdog, a cancellable durable sleep.
 * Deterministic: time is the orchestration's, child ids come from a counter replayed identically.
 */

import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import { Activity, type ActivityName, type OperationStatus, type StepFailure, type StepName, type WatchOperationInput } from '../activities/contracts.ts';
import { BakeEvent, Orchestration } from './contracts.ts';
import { LOOKS_PER_EXECUTION, MAX_OPERATION_ATTEMPTS, nextLook, TRANSIENT_RETRY, type PollBounds } from './polling.ts';
import { describeMs } from './watchdogs.ts';

/** A step failed for a reason worth showing: what failed, the code, and for scripts the exit code and last lines. */
export class StepFailed extends Error {
  override name = 'StepFailed';
  readonly step: StepName;
  readonly failure: StepFailure;

  constructor(step: StepName, failure: StepFailure) {
    super(`step ${step}: ${failure.message}`);
    this.step = step;
    this.failure = failure;
  }
}

/** The `cancel` event arrived. */
export class BakeCanceled extends Error {
  override name = 'BakeCanceled';
  /** Parallel children's outputs, when the cancel reached them and they ended (what they left behind). */
  readonly childOutputs: unknown[] | undefined;
  constructor(childOutputs?: unknown[]) {
    super('canceled by request');
    this.childOutputs = childOutputs;
  }
}

/** An absolute limit on a wait and what to call it in a message. */
export interface Deadline {
  at: Date;
  reason: string;
}

export interface AwaitOperationInput {
  step: StepName;
  label: string;
  status: Extract<OperationStatus, { state: 'InProgress' }>;
  poll: PollBounds;
  /** When the operation was begun: the poll interval grows with the time waited. */
  startedAt: string;
  deadline: string;
  deadlineReason: string;
  /** The percent an earlier execution already watched at (carried through continue-as-new). */
  watched?: number;
}

export type AwaitOperationOutput = Exclude<OperationStatus, { state: 'InProgress' }> | { state: 'TimedOut' } | { state: 'Canceled' };

export type Flowing<T> = Generator<Task, T, unknown>;

export function transientRetry(): df.RetryOptions {
  const options = new df.RetryOptions(TRANSIENT_RETRY.firstRetryIntervalMs, TRANSIENT_RETRY.maxAttempts);
  options.backoffCoefficient = TRANSIENT_RETRY.backoffCoefficient;
  options.maxRetryIntervalInMilliseconds = TRANSIENT_RETRY.maxRetryIntervalMs;
  return options;
}

/** The earlier of two deadlines. */
export function earliest(a: Deadline, b?: Deadline): Deadline {
  return b && b.at.getTime() < a.at.getTime() ? b : a;
}

export class Flow {
  readonly context: OrchestrationContext;
  /** Polling bounds; the bake sets them from its plan. */
  poll: PollBounds;
  /** The one `cancel` wait of this instance, raced against every other wait while `cancellable`. */
  private readonly cancel: Task;
  private cancellable = true;
  private children = 0;
  /**
   * Tasks started alongside the next call (a record save, the staging group's delete): waited for with it, and always
   * before a timer, an event or the end. `ordered` ones (saves) also land one after the other.
   */
  private alongside: { task: Task; ordered: boolean }[] = [];

  constructor(context: OrchestrationContext, poll: PollBounds) {
    this.context = context;
    this.poll = poll;
    this.cancel = context.df.waitForExternalEvent(BakeEvent.cancel);
  }

  now(): Date {
    return this.context.df.currentUtcDateTime;
  }

  after(ms: number, reason: string): Deadline {
    return { at: new Date(this.now().getTime() + ms), reason };
  }

  /** From now on a cancel is no longer heard (cleanup runs to its end). */
  stopListeningForCancel(): void {
    this.cancellable = false;
  }

  /** An activity, retried on thrown (transient) failures; a cancel interrupts the wait unless `cancellable` is false. */
  *call<T>(name: ActivityName, input: unknown, options: { cancellable?: boolean } = {}): Flowing<T> {
    const task = this.context.df.callActivityWithRetry(name, transientRetry(), input);
    yield* this.wait(task, options.cancellable !== false);
    return task.result as T;
  }

  /** An operation on a durable entity (the bake lock). */
  *entity<T>(name: string, key: string, operation: string, input: unknown, options: { cancellable?: boolean } = {}): Flowing<T> {
    const task = this.context.df.callEntity(new df.EntityId(name, key), operation, input);
    yield* this.wait(task, options.cancellable !== false);
    return task.result as T;
  }

  /**
   * Starts `task` (never interrupted by a cancel) together with the next call or entity call, so it costs no round
   * trip of its own; a timer or an event waits for it first. An `ordered` task (a record save) first waits for the
   * ordered ones started before it, so saves land in order; an unordered one (independent work) waits for nothing.
   */
  *startAlongside(task: Task, options: { ordered?: boolean } = {}): Flowing<void> {
    const ordered = options.ordered !== false;
    if (ordered) yield* this.settleAlongside((a) => a.ordered);
    this.alongside.push({ task, ordered });
  }

  /** An activity (retried on transient failures) started alongside the next call: see startAlongside. */
  *callAlongside(name: ActivityName, input: unknown, options: { ordered?: boolean } = {}): Flowing<void> {
    yield* this.startAlongside(this.context.df.callActivityWithRetry(name, transientRetry(), input), options);
  }

  /** Waits for every task started alongside that nothing has waited for yet. */
  *flush(): Flowing<void> {
    yield* this.settleAlongside(() => true);
  }

  /** Waits for the tasks alongside that `which` picks, and rethrows the first failure among them. */
  private *settleAlongside(which: (a: { task: Task; ordered: boolean }) => boolean): Flowing<void> {
    const picked = this.alongside.filter(which).map((a) => a.task);
    if (picked.length === 0) return;
    this.alongside = this.alongside.filter((a) => !which(a));
    yield picked.length === 1 ? picked[0]! : this.context.df.Task.all(picked);
    const failed = picked.find((t) => t.isFaulted);
    if (failed) throw asError(failed.result);
  }

  /**
   * Begins a long-running operation and waits for it to end, polling in a sub-orchestration between durable
   * timers, under the watchdog (or the tighter cap). A failed operation that says it is retryable is begun again
   * (activities are idempotent), up to MAX_OPERATION_ATTEMPTS. Returns how many times it was begun, and why its
   * script was not run when the platform said it simulated it.
   */
  *operation(
    step: StepName,
    label: string,
    activity: ActivityName,
    input: unknown,
    watchdogMs: number,
    cap?: Deadline,
  ): Flowing<{ attempts: number; simulated?: string }> {
    const deadline = earliest(this.after(watchdogMs, `its watchdog (${describeMs(watchdogMs)})`), cap);
    for (let attempt = 1; ; attempt++) {
      // The begin… activity has already looked quickly (src/activities/quick-looks.ts): an operation that ended within
      // the quick-look window needs no poller and no timer; the poller counts a longer wait's age from the begin.
      const begunAt = this.now();
      const begun = yield* this.call<OperationStatus>(activity, input);
      const status: AwaitOperationOutput = begun.state === 'InProgress' ? yield* this.awaitInChild(step, label, begun, deadline, begunAt) : begun;
      if (status.state === 'Succeeded') return { attempts: attempt, ...(status.simulated ? { simulated: status.simulated } : {}) };
      if (status.state === 'Canceled') throw new BakeCanceled();
      if (status.state === 'TimedOut') {
        throw new StepFailed(step, { code: 'Timeout', message: `${label} did not finish within ${deadline.reason}`, retryable: false });
      }
      const canRetry = status.error.retryable && attempt < MAX_OPERATION_ATTEMPTS && this.now() < deadline.at;
      if (!canRetry) throw new StepFailed(step, { ...status.error, message: `${label}: ${status.error.message}` });
    }
  }

  /** Sleeps until `at` on a durable timer; a cancel cuts it short. */
  *sleepUntil(at: Date): Flowing<void> {
    yield* this.flush();
    const timer = this.context.df.createTimer(at);
    if (!this.cancellable) {
      yield timer;
      return;
    }
    yield this.context.df.Task.any([timer, this.cancel]);
    if (!timer.isCompleted) {
      timer.cancel();
      throw new BakeCanceled();
    }
  }

  /**
   * Runs sub-orchestrations in parallel (of `name`, or of a child's own) and returns their outputs in order. A cancel is passed on to them, and they
   * are waited for, so the BakeCanceled thrown carries what each left behind (a rollout stopped mid-batch).
   */
  *parallel<T>(name: string, children: { input: unknown; instanceId: string; name?: string }[]): Flowing<T[]> {
    if (children.length === 0) return [];
    const all = this.context.df.Task.all(children.map((c) => this.context.df.callSubOrchestrator(c.name ?? name, c.input, c.instanceId)));
    try {
      yield* this.raceChildren(all, children.map((c) => c.instanceId));
    } catch (error) {
      if (!(error instanceof BakeCanceled)) throw error;
      yield all;
      throw new BakeCanceled(all.result as T[]);
    }
    return all.result as T[];
  }

  /** Waits for an external event or until `deadline`, whichever is first; undefined on timeout. */
  *event<T>(name: string, deadline: Date): Flowing<T | undefined> {
    yield* this.flush();
    const event = this.context.df.waitForExternalEvent(name);
    const timer = this.context.df.createTimer(deadline);
    yield this.context.df.Task.any(this.cancellable ? [event, timer, this.cancel] : [event, timer]);
    if (!timer.isCompleted) timer.cancel();
    if (event.isCompleted) return (event.result ?? {}) as T;
    if (!timer.isCompleted) throw new BakeCanceled();
    return undefined;
  }

  /** A fresh child instance id, the same on every replay. */
  childId(kind: string): string {
    return `${this.context.df.instanceId}:${kind}:${this.children++}`;
  }

  private *awaitInChild(
    step: StepName,
    label: string,
    status: Extract<OperationStatus, { state: 'InProgress' }>,
    deadline: Deadline,
    begunAt: Date,
  ): Flowing<AwaitOperationOutput> {
    const input: AwaitOperationInput = {
      step,
      label,
      status,
      poll: this.poll,
      startedAt: begunAt.toISOString(),
      deadline: deadline.at.toISOString(),
      deadlineReason: deadline.reason,
    };
    const instanceId = this.childId('wait');
    const task = this.context.df.callSubOrchestrator(Orchestration.awaitOperation, input, instanceId);
    yield* this.raceChildren(task, [instanceId]);
    return task.result as AwaitOperationOutput;
  }

  /** Like race, and when a cancel wins, the children hear it too (they listen on their own instance ids). */
  private *raceChildren(task: Task, instanceIds: string[]): Flowing<void> {
    try {
      yield* this.race(task);
    } catch (error) {
      if (error instanceof BakeCanceled) yield* this.call(Activity.forwardCancel, { instanceIds }, { cancellable: false });
      throw error;
    }
  }

  /** Yields the task (raced with cancel while cancellable) and rethrows its failure. */
  private *race(task: Task): Flowing<void> {
    yield* this.wait(task, true);
  }

  /**
   * Yields `task` with the task started alongside, if any, raced with the cancel when `cancellable`, and rethrows a
   * failure. The task alongside is finished before anything after this wait, so record saves land in order.
   */
  private *wait(task: Task, cancellable: boolean): Flowing<void> {
    const alongside = this.alongside.map((a) => a.task);
    this.alongside = [];
    const waited = alongside.length > 0 ? this.context.df.Task.all([...alongside, task]) : task;
    try {
      if (cancellable && this.cancellable) {
        yield this.context.df.Task.any([waited, this.cancel]);
        if (!ended(waited)) throw new BakeCanceled();
      } else {
        yield waited;
      }
    } finally {
      // One at a time: a new Task.all over tasks already scheduled sends their actions again (durable-js issue #574:
      // the activity may run twice); a task yielded again on its own is not scheduled again.
      for (const unfinished of alongside) if (!ended(unfinished)) yield unfinished;
    }
    const failed = alongside.find((t) => t.isFaulted);
    if (failed) throw asError(failed.result);
    if (task.isFaulted) throw asError(task.result);
  }
}

/**
 * Orchestration `awaitOperation`: looks at one operation between growing durable timers until it ends; where the
 * operation reports progress, also at its estimated end, with quick looks across it (watchOperation).
 */
export function* awaitOperation(context: OrchestrationContext): Flowing<AwaitOperationOutput | undefined> {
  const input = context.df.getInput() as AwaitOperationInput;
  const flow = new Flow(context, input.poll);
  const deadline = new Date(input.deadline).getTime();
  const startedAt = new Date(input.startedAt).getTime();
  let status: OperationStatus = input.status;
  let watched = input.watched;
  try {
    for (let looks = 0; status.state === 'InProgress'; looks++) {
      const now = flow.now().getTime();
      if (now >= deadline) return { state: 'TimedOut' };
      if (looks >= LOOKS_PER_EXECUTION) {
        // Keep the history short on hours-long waits: start afresh with what is known.
        context.df.continueAsNew({ ...input, status, ...(watched !== undefined ? { watched } : {}) } satisfies AwaitOperationInput);
        return undefined;
      }
      const next = nextLook(now - startedAt, input.poll, status, watched);
      if (next.watchMs > 0) watched = Math.floor(status.percent ?? 0);
      if (next.delayMs > 0) yield* flow.sleepUntil(new Date(Math.min(now + next.delayMs, deadline)));
      status =
        next.watchMs > 0
          ? yield* flow.call<OperationStatus>(Activity.watchOperation, { operation: status.operation, forMs: next.watchMs, ...(next.pace !== undefined ? { paced: { from: input.startedAt, fraction: next.pace } } : {}) } satisfies WatchOperationInput)
          : yield* flow.call<OperationStatus>(Activity.pollOperation, status.operation);
    }
    return status;
  } catch (error) {
    if (error instanceof BakeCanceled) return { state: 'Canceled' };
    throw error;
  }
}

function ended(task: Task): boolean {
  return task.isCompleted || task.isFaulted;
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
