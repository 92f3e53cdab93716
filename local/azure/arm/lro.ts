/**
 * Long-running operations, written once: the operation record, the headers each kind of ARM operation answers with,
 * the status monitors and operation results, and the clock that moves operations to their end.
 */
import { randomUUID } from 'node:crypto';
import type { ArmResponse } from './http.ts';
import { errors, type OperationFailure } from './errors.ts';
import type { ArmStore } from './store.ts';

export type OperationStatus = 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';

/** A change applied when its time comes; `kind` names an effect registered by a handler module. */
export interface Effect {
  kind: string;
  args: Record<string, unknown>;
}

export interface Step {
  /** Epoch ms at which the effect applies. */
  at: number;
  effect: Effect;
  /**
   * Epoch ms at which the step was due on the emulated timeline (set by the engine): `at`, less the delay with which
   * the step that scheduled it was applied. Time moves only when a request arrives, so an effect applied late
   * schedules its follow-up late; on Azure it would have run on time.
   */
  due?: number;
}

/** Which provider's polling URLs the operation uses. */
export type MonitorStyle = 'compute' | 'gallery' | 'network' | 'resources';

export interface Operation {
  id: string;
  subscriptionId: string;
  location: string;
  apiVersion: string;
  style: MonitorStyle;
  /** The resource the operation acts on (for `Conflict` checks and failure marking). */
  resourceId: string;
  operation: string;
  status: OperationStatus;
  startTime: string;
  endTime?: string;
  error?: OperationFailure;
  /** Result of a POST action: the 200 body of the Location URL and `properties.output` of the monitor. */
  output?: unknown;
  steps: Step[];
  /** Completed by an in-process task (a script) rather than by the clock alone. */
  external: boolean;
  /** The step being applied: an emulator killed meanwhile applies it again at its next start. */
  applying?: Step;
  /** How late (ms) the engine applied the operation's latest step: the wait for a request to move time on. */
  lagMs?: number;
  /**
   * Epoch ms at which the operation was due to end had every step applied when due: its last step's due time plus
   * the real work after it (an effect, a script); `endTime` instead is when a request settled it.
   */
  dueAt?: number;
}

/** One operation on the emulated timeline (`OperationEngine.timeline`). */
export interface TimelineEntry {
  /** The ARM operation, e.g. `virtualMachines.createOrUpdate`, or a guest's own (`guest.shutdown`). */
  operation: string;
  resourceId: string;
  status: OperationStatus;
  /** Epoch ms: the request arrived. */
  startedAt: number;
  /** Epoch ms: the operation was due to end (profile durations plus real work); absent while it runs. */
  dueAt?: number;
  /** Epoch ms: a request saw it end (includes the caller's detection delay); absent while it runs. */
  settledAt?: number;
}

/** What an effect may report back: a failure ends the operation, more steps extend it. */
export type EffectResult =
  | void
  | undefined
  | { fail?: OperationFailure; output?: unknown; addSteps?: Step[] };

export type EffectHandler = (args: Record<string, unknown>, op: Operation, now: number) => EffectResult | Promise<EffectResult>;

/** An effect that never ends fails its operation after this long, so its resource's later operations can run. */
const EFFECT_DEADLINE_MS = 120_000;

/**
 * How long a request waits for an effect already running before it reads state anyway: long enough for the usual
 * millisecond effects, short enough that a slow one (a guest boot, a disk copy) holds up no other request for long.
 */
const EFFECT_PATIENCE_MS = 1_000;

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * The operations on one resource id: their steps apply one at a time, in time order; other lanes run alongside.
 * `stalled` says the running effect has outlived the patience, so requests stop waiting for this lane.
 */
interface Lane {
  busy: boolean;
  stalled: boolean;
  /** The latest `now` a settle asked this lane to reach. */
  wanted: number;
  /** What stopped the lane (the store failed, e.g. closed at shutdown): the requests waiting on it fail with it. */
  error?: unknown;
  /** Resolves at the next change of `busy` or `stalled`. */
  changed: Promise<void>;
  wake: () => void;
}

function laneKey(op: Operation): string {
  return op.resourceId.toLowerCase();
}

/** Steps scheduled by something that ran `lagMs` late are due that much before their `at`. */
function dueSteps(steps: Step[], lagMs: number): Step[] {
  return steps.map((step) => ({ ...step, due: step.due ?? step.at - lagMs }));
}

export class OperationEngine {
  readonly #store: ArmStore;
  readonly #effects = new Map<string, EffectHandler>();
  readonly #lanes = new Map<string, Lane>();
  readonly #patienceMs: number;
  /** Ids of running operations, so a settle does not scan every operation ever run. */
  readonly #activeIds = new Set<string>();
  /** Work on the timeline that is no operation (a guest's detached processes); in memory only. */
  readonly #noted: TimelineEntry[] = [];
  /** Work that ended but that no request has seen end yet, by key (see noteUntilSeen). */
  readonly #unseen = new Map<string, TimelineEntry>();

  constructor(store: ArmStore, options: { patienceMs?: number } = {}) {
    this.#store = store;
    this.#patienceMs = options.patienceMs ?? EFFECT_PATIENCE_MS;
    for (const op of store.list<Operation>('operation')) {
      if (op.status !== 'InProgress') continue;
      this.#activeIds.add(op.id);
      if (op.applying) {
        op.steps.unshift(op.applying);
        delete op.applying;
        this.save(op);
      }
      // The in-process task (a script) that would have ended it died with the previous emulator process.
      if (op.external) this.finish(op, { error: errors.preemptedByRestart() });
    }
  }

  #closed = false;

  /** The emulator stopped: in-process tasks (scripts) that end later report nothing, as after a kill (see `closed`). */
  close(): void {
    this.#closed = true;
  }

  /** Whether the emulator stopped; the next emulator on the same home picks up what was still running. */
  get closed(): boolean {
    return this.#closed;
  }

  registerEffect(kind: string, handler: EffectHandler): void {
    this.#effects.set(kind, handler);
  }

  get(id: string): Operation | undefined {
    return this.#store.get<Operation>('operation', id);
  }

  save(op: Operation): void {
    this.#store.put('operation', op.id, op);
  }

  start(init: Pick<Operation, 'subscriptionId' | 'location' | 'apiVersion' | 'style' | 'resourceId' | 'operation'> & { steps: Step[]; external?: boolean }): Operation {
    const op: Operation = {
      id: randomUUID(),
      status: 'InProgress',
      startTime: new Date().toISOString(),
      external: init.external ?? false,
      ...init,
      steps: dueSteps(init.steps, 0),
    };
    this.save(op);
    this.#activeIds.add(op.id);
    // Nothing left to wait for: it is done at once (its first poll says Succeeded).
    if (op.steps.length === 0 && !op.external) this.finish(op, {});
    return this.get(op.id) ?? op;
  }

  /** Operations still running on a resource or its children, e.g. to refuse a second action. */
  running(resourceIdPrefix: string): Operation[] {
    const id = resourceIdPrefix.toLowerCase();
    return this.#active().filter((op) => {
      const opId = op.resourceId.toLowerCase();
      return opId === id || opId.startsWith(`${id}/`);
    });
  }

  /** An effect started an in-process task (a script) that ends the operation by `resolveExternal`. */
  hold(id: string): void {
    const op = this.get(id);
    if (!op || op.status !== 'InProgress') return;
    op.external = true;
    this.save(op);
  }

  /** An in-process task (a script) is done: the operation now ends by its remaining steps, or at once without any. */
  resolveExternal(id: string, steps: Step[]): void {
    const op = this.get(id);
    if (!op || op.status !== 'InProgress') return;
    op.external = false;
    // The task started when the step that launched it was applied, late by `lagMs`: its follow-ups are due that much earlier.
    op.steps = op.steps.concat(dueSteps(steps, op.lagMs ?? 0));
    this.save(op);
    if (op.steps.length === 0) this.finish(op, {});
  }

  finish(op: Operation, outcome: { error?: OperationFailure; output?: unknown; status?: OperationStatus }): void {
    const current = this.get(op.id) ?? op;
    if (current.status !== 'InProgress') return;
    current.status = outcome.status ?? (outcome.error ? 'Failed' : 'Succeeded');
    current.error = outcome.error;
    if (outcome.output !== undefined) current.output = outcome.output;
    current.steps = [];
    const end = Date.now();
    current.endTime = new Date(end).toISOString();
    current.dueAt = Math.max(current.dueAt ?? Date.parse(current.startTime), end - (current.lagMs ?? 0));
    this.save(current);
    this.#activeIds.delete(current.id);
  }

  /**
   * Every operation started at or after `since` (epoch ms), oldest first: when it started, when it was due to end and
   * when a request saw it end. The difference between the last two is the caller's detection delay.
   */
  timeline(since = 0): TimelineEntry[] {
    const operations = this.#store
      .list<Operation>('operation')
      .map((op) => {
        const entry: TimelineEntry = { operation: op.operation, resourceId: op.resourceId, status: op.status, startedAt: Date.parse(op.startTime) };
        if (op.status !== 'InProgress') {
          entry.dueAt = op.dueAt ?? Date.parse(op.endTime ?? op.startTime);
          entry.settledAt = Date.parse(op.endTime ?? op.startTime);
        }
        return entry;
      });
    return [...operations, ...this.#noted].filter((entry) => entry.startedAt >= since).sort((a, b) => a.startedAt - b.startedAt);
  }

  /** Adds work that is no operation to the timeline, e.g. what a guest ran detached until it powered itself off. */
  note(entry: TimelineEntry): void {
    this.#noted.push(entry);
  }

  /**
   * Work that is no operation and ended at `dueAt` (an asyncExecution Run Command's script, which runs after its PUT
   * ended): it joins the timeline when `seen(key)` says a request saw it end, which is its settledAt.
   */
  noteUntilSeen(key: string, entry: Omit<TimelineEntry, 'settledAt'>): void {
    this.#unseen.set(key.toLowerCase(), entry);
  }

  /** The resource the work under `key` was noted for is gone (deleted): nobody can see it end, so it is dropped. */
  forget(key: string): void {
    this.#unseen.delete(key.toLowerCase());
  }

  /** A request saw the work noted under `key` end (first time only). */
  seen(key: string): void {
    const entry = this.#unseen.get(key.toLowerCase());
    if (!entry) return;
    this.#unseen.delete(key.toLowerCase());
    this.#noted.push({ ...entry, settledAt: Math.max(Date.now(), entry.dueAt ?? 0) });
  }

  #active(): Operation[] {
    return [...this.#activeIds].flatMap((id) => {
      const op = this.get(id);
      return op && op.status === 'InProgress' ? [op] : [];
    });
  }

  /**
   * Applies every step that is due (requests call this before reading state). Operations on different resources apply
   * concurrently; those on one resource, and the steps of one operation, in time order. The request waits until every
   * due step has applied, except behind an effect that has outlived the patience: that operation stays InProgress.
   */
  async settle(now = Date.now()): Promise<void> {
    await this.#settle(now, false);
  }

  /** Like settle, but waits for slow effects too (the seed: what already exists must be there when it is read). */
  async settleFully(now = Date.now()): Promise<void> {
    await this.#settle(now, true);
  }

  async #settle(now: number, fully: boolean): Promise<void> {
    for (;;) {
      // Each pass also picks up steps that the previous pass's effects made due on other resources.
      const waiting = this.#startDueLanes(now).filter((lane) => lane.busy && (fully || !lane.stalled));
      if (waiting.length === 0) return;
      await Promise.all(waiting.map((lane) => this.#untilDone(lane, fully)));
    }
  }

  #startDueLanes(now: number): Lane[] {
    const keys = new Set(this.#active().filter((op) => op.steps.some((step) => step.at <= now)).map(laneKey));
    return [...keys].map((key) => {
      let lane = this.#lanes.get(key);
      if (!lane) {
        lane = { busy: false, stalled: false, wanted: now, changed: Promise.resolve(), wake: () => undefined };
        this.#renewSignal(lane);
        this.#lanes.set(key, lane);
      }
      lane.wanted = Math.max(lane.wanted, now);
      if (!lane.busy) {
        lane.busy = true;
        void this.#runLane(key, lane);
      }
      return lane;
    });
  }

  /** Until the lane is idle, or (unless `fully`) its running effect has outlived the patience. */
  async #untilDone(lane: Lane, fully: boolean): Promise<void> {
    while (lane.busy && (fully || !lane.stalled)) await lane.changed;
    if (lane.error !== undefined) throw lane.error;
  }

  #renewSignal(lane: Lane): void {
    const wake = lane.wake;
    lane.changed = new Promise((resolve) => (lane.wake = resolve));
    wake();
  }

  async #runLane(key: string, lane: Lane): Promise<void> {
    try {
      await this.#applyDueSteps(key, lane);
    } catch (error) {
      lane.error = error;
      lane.busy = false;
      this.#lanes.delete(key);
      this.#renewSignal(lane);
    }
  }

  async #applyDueSteps(key: string, lane: Lane): Promise<void> {
    for (;;) {
      const due = this.#active()
        .filter((op) => laneKey(op) === key)
        .flatMap((op) => op.steps.map((step, index) => ({ op, step, index })).filter(({ step }) => step.at <= lane.wanted))
        .sort((a, b) => a.step.at - b.step.at)[0];
      if (!due) {
        // Decided in the same turn as the check, so a settle arriving next starts the lane again.
        lane.busy = false;
        this.#lanes.delete(key);
        this.#renewSignal(lane);
        return;
      }
      const timer = setTimeout(() => {
        lane.stalled = true;
        this.#renewSignal(lane);
      }, this.#patienceMs);
      try {
        await this.#apply(due.op, due.step, due.index, lane.wanted);
      } finally {
        clearTimeout(timer);
        lane.stalled = false;
      }
    }
  }

  async #apply(op: Operation, step: Step, index: number, now: number): Promise<void> {
    // The step is taken before it runs, so a task the effect starts sees the operation as it is from now on.
    op.steps.splice(index, 1);
    op.applying = step;
    const ranFrom = Date.now();
    const stepDue = step.due ?? step.at;
    op.lagMs = Math.max(0, Math.max(now, ranFrom) - stepDue);
    this.save(op);
    const handler = this.#effects.get(step.effect.kind);
    let result: EffectResult;
    try {
      if (!handler) throw new Error(`no handler registered for effect ${step.effect.kind}`);
      result = await withDeadline(Promise.resolve(handler(step.effect.args, op, step.at)), EFFECT_DEADLINE_MS, step.effect.kind);
    } catch (error) {
      result = { fail: errors.internalExecutionError(`applying ${step.effect.kind}`, (error as Error).message) };
    }
    const fresh = this.get(op.id) ?? op;
    delete fresh.applying;
    if (fresh.status !== 'InProgress') {
      this.save(fresh);
      return;
    }
    // The effect's own work (a snapshot, an upgrade) counts as the operation's, from when the step was due.
    fresh.dueAt = Math.max(fresh.dueAt ?? 0, stepDue + (Date.now() - ranFrom));
    fresh.steps = fresh.steps.concat(dueSteps(result?.addSteps ?? [], fresh.lagMs ?? 0));
    if (result?.output !== undefined) fresh.output = result.output;
    this.save(fresh);
    if (result?.fail) this.finish(fresh, { error: result.fail });
    else if (fresh.steps.length === 0 && !fresh.external) this.finish(fresh, {});
  }
}

// ---- URLs and headers, per Azure's conventions for each kind of operation ----

function monitorPath(op: Operation): string {
  switch (op.style) {
    case 'compute':
      return `/subscriptions/${op.subscriptionId}/providers/Microsoft.Compute/locations/${op.location}/operations/${op.id}`;
    case 'gallery':
      return `/subscriptions/${op.subscriptionId}/providers/Microsoft.Compute/locations/${op.location}/capsOperations/${op.id}`;
    case 'network':
      return `/subscriptions/${op.subscriptionId}/providers/Microsoft.Network/locations/${op.location}/operations/${op.id}`;
    case 'resources':
      return `/subscriptions/${op.subscriptionId}/operationresults/${op.id}`;
  }
}

export function asyncOperationUrl(origin: string, op: Operation): string {
  return `${origin}${monitorPath(op)}?api-version=${op.apiVersion}`;
}

export function locationUrl(origin: string, op: Operation): string {
  if (op.style === 'resources') return asyncOperationUrl(origin, op);
  return `${origin}${monitorPath(op)}?monitor=true&api-version=${op.apiVersion}`;
}

/** PUT/PATCH: 201 (created) or 200 with the resource body and only `Azure-AsyncOperation` (PUT final GET is the request URL). */
export function acceptedWrite(origin: string, op: Operation, created: boolean, body: unknown): ArmResponse {
  return { status: created ? 201 : 200, body, headers: { 'Azure-AsyncOperation': asyncOperationUrl(origin, op) } };
}

/** POST actions and DELETE: 202 with `Azure-AsyncOperation`, `Location` (monitor=true) and `Retry-After`. */
export function acceptedAction(origin: string, op: Operation): ArmResponse {
  return {
    status: 202,
    headers: { 'Azure-AsyncOperation': asyncOperationUrl(origin, op), Location: locationUrl(origin, op), 'Retry-After': '1' },
  };
}

/** Resource-group delete: 202 with `Location` only. */
export function acceptedResourceGroupDelete(origin: string, op: Operation): ArmResponse {
  return { status: 202, headers: { Location: locationUrl(origin, op), 'Retry-After': '1' } };
}

/** The status monitor body (`Azure-AsyncOperation` URL). */
export function monitorBody(op: Operation): Record<string, unknown> {
  const body: Record<string, unknown> = { name: op.id, status: op.status, startTime: op.startTime };
  if (op.endTime) body.endTime = op.endTime;
  if (op.error) body.error = op.error;
  if (op.status === 'Succeeded' && op.output !== undefined) body.properties = { output: op.output };
  return body;
}

/** The operation-result (`Location`) URL: 202 while running, then 200 with the action's result or an empty body. */
export function operationResult(op: Operation): ArmResponse {
  if (op.status === 'InProgress') return { status: 202, headers: { 'Retry-After': '1' } };
  if (op.status === 'Failed' || op.status === 'Canceled') {
    const error = op.error ?? { code: 'OperationCanceled', message: 'Operation was canceled.' };
    throw errors.operationFailed(error);
  }
  return { status: 200, body: op.output ?? undefined };
}
