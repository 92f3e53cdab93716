/** One orchestrator episode: replay the history plus new events through the SDK handler, then commit the
 * resulting decisions (new tasks, timers, children, entity messages, completion) in one transaction. */
import { randomUUID } from 'node:crypto';
import type { FunctionInvoker } from '../engine-contract.ts';
import {
  ActionType,
  actionSignature,
  decodeEncodedInput,
  fireAtIso,
  flattenActions,
  toJson,
  type Action,
  type OrchestratorState,
} from './actions.ts';
import { EventType, completedTaskId, historyEvents, isFailureEvent, type Failure, type HistoryEvent } from './history.ts';
import { continueAsNew, finishInstance, startInstance, type Outcome } from './lifecycle.ts';
import { attemptsLeft, retryDelayMs, retryTimedOut, type RetryState } from './retry.ts';
import type { DurableStore, InboxRow, InstanceRow } from './store.ts';

/** Most events taken into one episode; the rest wait for the next. */
const MAX_BATCH = 100;

/** Binding fields the SDK requires besides history/instanceId/input. Timers never get split into
 * chunks: the maximum short timer is ten years. */
const bindingConstants = {
  isReplaying: false,
  upperSchemaVersion: 2,
  upperSchemaVersionNew: 3,
  maximumShortTimerDuration: '3650.00:00:00',
  longRunningTimerIntervalDuration: '3.00:00:00',
  defaultHttpAsyncRequestSleepTimeMillseconds: 30_000,
};

const outOfProcLabel = '$OutOfProcData$:';

/** Events the SDK's replay never reads: kept in the stored history, left out of the replay. */
const bookkeepingEvents = new Set<number>([
  EventType.TaskScheduled,
  EventType.SubOrchestrationInstanceCreated,
  EventType.TimerCreated,
  EventType.OrchestratorCompleted,
  EventType.ExecutionSuspended,
  EventType.ExecutionResumed,
]);

export interface EpisodeDeps {
  store: DurableStore;
  invoker: FunctionInvoker;
  now: () => number;
  histories: HistoryCache;
}

/** Parsed histories of recently run instances, so an episode does not re-read and re-parse its whole history.
 * An entry is used only while its execution id and length match the store's. */
export class HistoryCache {
  readonly #entries = new Map<string, { executionId: string; events: HistoryEvent[] }>();
  readonly #capacity: number;

  constructor(capacity = 1_000) {
    this.#capacity = capacity;
  }

  load(store: DurableStore, instanceId: string, executionId: string): HistoryEvent[] {
    const cached = this.#entries.get(instanceId);
    if (cached && cached.executionId === executionId && cached.events.length === store.historyLength(instanceId)) return cached.events;
    const events = store.loadHistory(instanceId);
    this.#set(instanceId, executionId, events);
    return events;
  }

  #set(instanceId: string, executionId: string, events: HistoryEvent[]): void {
    this.#entries.delete(instanceId);
    this.#entries.set(instanceId, { executionId, events });
    if (this.#entries.size > this.#capacity) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /** Records what an episode appended (should its transaction roll back, the length check drops the entry). */
  extend(instanceId: string, executionId: string, past: HistoryEvent[], appended: readonly HistoryEvent[]): void {
    past.push(...appended);
    this.#set(instanceId, executionId, past);
  }
}

type Retries = Record<string, RetryState>;

/** Retry bookkeeping an event triggers: a reservation takes a new task id before any new user-code action. */
function retryEffect(event: HistoryEvent, retries: Retries): { key: string; reserves: boolean } | undefined {
  const id = completedTaskId(event);
  if (id === undefined) return undefined;
  for (const [key, state] of Object.entries(retries)) {
    if (state.currentId !== id) continue;
    if (state.phase === 'attempt') return { key, reserves: isFailureEvent(event) };
    if (event.EventType === EventType.TimerFired) return { key, reserves: attemptsLeft(state) };
  }
  return undefined;
}

/** Orders a batch as the SDK must see it: ExecutionStarted first, then retry reservations, then the rest. */
function orderBatch(rows: InboxRow[], retries: Retries): { row: InboxRow; event: HistoryEvent }[] {
  const items = rows.map((row) => ({ row, event: JSON.parse(row.event) as HistoryEvent }));
  const rank = (event: HistoryEvent): number =>
    event.EventType === EventType.ExecutionStarted ? 0 : retryEffect(event, retries)?.reserves ? 1 : 2;
  return items.map((item, index) => ({ item, index })).sort((a, b) => rank(a.item.event) - rank(b.item.event) || a.index - b.index).map((x) => x.item);
}

/** Parses the state the SDK attaches to an orchestrator failure. */
function failureState(error: unknown): { message: string; details: string; state?: OrchestratorState } {
  const text = error instanceof Error ? error.message : String(error);
  const at = text.indexOf(outOfProcLabel);
  const stack = error instanceof Error ? (error.stack ?? text) : text;
  if (at < 0) return { message: text, details: stack };
  try {
    const state = JSON.parse(text.slice(at + outOfProcLabel.length)) as OrchestratorState;
    return { message: state.error ?? text.slice(0, at).trim(), details: stack.slice(0, stack.indexOf(outOfProcLabel)).trim(), state };
  } catch {
    return { message: text, details: stack };
  }
}

/** The external events this execution never consumed, which continueAsNew carries to the next one. */
function unconsumedEvents(history: HistoryEvent[], leaves: Action[]): HistoryEvent[] {
  const waits = new Map<string, number>();
  for (const leaf of leaves) {
    if (leaf.actionType === ActionType.WaitForExternalEvent && leaf.externalEventName !== undefined) {
      waits.set(leaf.externalEventName, (waits.get(leaf.externalEventName) ?? 0) + 1);
    }
  }
  const byName = new Map<string, HistoryEvent[]>();
  for (const e of history) {
    if (e.EventType !== EventType.EventRaised || e.Name === undefined) continue;
    const list = byName.get(e.Name) ?? [];
    list.push(e);
    byName.set(e.Name, list);
  }
  const carried: HistoryEvent[] = [];
  // Only named external events count: entity responses and lock grants are keyed by request guids nobody waits on.
  for (const [name, events] of byName) {
    const waited = waits.get(name);
    if (waited !== undefined) carried.push(...events.slice(waited));
  }
  return carried;
}

/** Runs one episode for `instanceId` if it has work; returns true when something was committed. */
export async function runEpisode(deps: EpisodeDeps, instanceId: string): Promise<boolean> {
  const { store, invoker, now, histories } = deps;
  const row = store.getInstance(instanceId);
  if (!row || (row.status !== 'Pending' && row.status !== 'Running')) return false;
  const rows = store.inbox(instanceId, MAX_BATCH);
  const stale = rows.filter((r) => r.execution_id !== null && r.execution_id !== row.execution_id);
  const fresh = rows.filter((r) => !stale.includes(r));
  const retries = JSON.parse(row.retries) as Retries;
  const batch = orderBatch(fresh, retries);
  const past = batch.length > 0 ? deps.histories.load(store, instanceId, row.execution_id) : [];
  if (batch.length > 0 && past.length === 0 && batch[0]!.event.EventType !== EventType.ExecutionStarted) {
    throw new Error(`instance '${instanceId}': no ExecutionStarted event in its inbox or history`);
  }

  const startedAt = Math.max(now(), lastTimestamp(past));
  const started = historyEvents.orchestratorStarted(startedAt);
  const fed = [...past.filter((e) => !bookkeepingEvents.has(e.EventType)), started, ...batch.map((b) => b.event)];
  let state: OrchestratorState | undefined;
  let failure: { message: string; details: string } | undefined;
  if (batch.length > 0) {
    try {
      state = (await invoker.invoke(row.name, {
        ...bindingConstants,
        history: fed,
        instanceId,
        input: JSON.parse(row.input) as unknown,
        parentInstanceId: row.parent_instance_id ?? undefined,
      }, { invocationId: randomUUID() })) as OrchestratorState;
      if (!state || !Array.isArray(state.actions)) {
        failure = { message: `Orchestrator function '${row.name}' did not return an orchestrator state`, details: '' };
      }
    } catch (error) {
      const parsed = failureState(error);
      failure = parsed;
      state = parsed.state;
    }
  }

  return store.transaction(() => {
    const current = store.getInstance(instanceId);
    // A terminate, suspend or continue-as-new that committed meanwhile wins; this episode's work is redone or moot.
    if (!current || current.execution_id !== row.execution_id || (current.status !== 'Pending' && current.status !== 'Running')) {
      return false;
    }
    store.deleteInbox(stale.map((r) => r.id));
    if (batch.length === 0) return stale.length > 0;
    store.deleteInbox(batch.map((b) => b.row.id));
    const decider = new Decider(store, current, startedAt);
    decider.record([started, ...batch.map((b) => b.event)]);
    if (!failure) failure = decider.checkDeterminism(row.name, state!);
    if (!failure) {
      for (const item of batch) decider.applyRetryEvent(item.event);
      failure = decider.schedule(state!);
    }
    decider.record([historyEvents.orchestratorCompleted(startedAt)]);
    decider.save(state?.customStatus);
    histories.extend(instanceId, row.execution_id, past, decider.events);
    if (failure) {
      decider.finish({ status: 'Failed', message: failure.message, details: failure.details });
    } else if (state!.isDone) {
      const leaves = flattenActions(state!.actions);
      const next = leaves.find((a) => a.actionType === ActionType.ContinueAsNew);
      if (next) continueAsNew(store, startedAt, decider.row, toJson(decodeEncodedInput(next.input)), unconsumedEvents(fed, leaves));
      else decider.finish({ status: 'Completed', output: toJson(state!.output) });
    }
    return true;
  });
}

/** The SDK turns Timestamp strings into Dates in place (Utils.parseTimestampsAsDates), so cached events hold either. */
function lastTimestamp(history: HistoryEvent[]): number {
  const last = history.at(-1);
  return last ? new Date(last.Timestamp).getTime() : 0;
}

/** Applies one episode's decisions to the store (inside the episode's transaction). */
class Decider {
  readonly row: InstanceRow;
  readonly #store: DurableStore;
  readonly #at: number;
  readonly #events: HistoryEvent[] = [];
  readonly #done: [number, string][];
  readonly #retries: Retries;
  #nextSeq: number;

  constructor(store: DurableStore, row: InstanceRow, at: number) {
    this.#store = store;
    this.row = row;
    this.#at = at;
    this.#done = JSON.parse(row.actions) as [number, string][];
    this.#retries = JSON.parse(row.retries) as Retries;
    this.#nextSeq = row.next_seq;
  }

  get events(): readonly HistoryEvent[] {
    return this.#events;
  }

  record(events: HistoryEvent[]): void {
    this.#events.push(...events);
  }

  /** The replay must schedule what it scheduled before, in the same order (DTFx's non-determinism check). */
  checkDeterminism(name: string, state: OrchestratorState): { message: string; details: string } | undefined {
    const leaves = flattenActions(state.actions);
    for (let i = 0; i < this.#done.length; i++) {
      const before = this.#done[i]![1];
      const now = leaves[i] === undefined ? 'nothing' : actionSignature(leaves[i]!);
      if (before !== now && !(leaves[i] === undefined && state.isDone)) {
        return {
          message:
            `Non-deterministic orchestrator '${name}': on replay, action #${i} is ${now}, but the history has ${before}. ` +
            'Orchestrator code must make the same calls in the same order on every replay.',
          details: '',
        };
      }
    }
    return undefined;
  }

  /** Host-side retries: a failed attempt gets a retry timer, a fired retry timer gets the next attempt. */
  applyRetryEvent(event: HistoryEvent): void {
    const effect = retryEffect(event, this.#retries);
    if (!effect) return;
    const retry = this.#retries[effect.key]!;
    if (!effect.reserves) {
      delete this.#retries[effect.key];
      return;
    }
    if (retry.phase === 'attempt') {
      retry.failures += 1;
      // Attempts failed by the engine for the retry timeout repeat the last real failure; keep that one.
      if (!retry.timedOut) retry.lastFailure = { reason: event.Reason ?? 'failed', details: event.Details ?? '' };
      const timerId = this.#nextSeq++;
      const delay = retryTimedOut(retry, this.#at) ? 0 : retryDelayMs(retry.options, retry.failures);
      const fireAt = new Date(this.#at + delay).toISOString();
      this.#events.push(historyEvents.timerCreated(this.#at, timerId, fireAt));
      this.#store.addTimer(this.row.instance_id, this.row.execution_id, this.#at + delay, historyEvents.timerFired(0, timerId, fireAt));
      retry.phase = 'timer';
      retry.currentId = timerId;
      return;
    }
    const attemptId = this.#nextSeq++;
    retry.phase = 'attempt';
    retry.currentId = attemptId;
    if (retryTimedOut(retry, this.#at)) {
      retry.timedOut = true;
      const failure = retry.lastFailure ?? { reason: 'retry timeout exceeded', details: '' };
      this.#deliverFailure(retry.kind, attemptId, { reason: `${failure.reason} (retry timeout exceeded)`, details: failure.details });
    } else if (retry.kind === 'activity') {
      this.#startActivity(attemptId, retry.name, retry.input);
    } else {
      this.#startChild(attemptId, retry.name, retry.childInstanceId!, retry.input, retry.version ?? '');
    }
  }

  /** Gives every new action its task id (as the SDK numbers them) and starts its work. */
  schedule(state: OrchestratorState): { message: string; details: string } | undefined {
    const leaves = flattenActions(state.actions);
    let lockSize = 0;
    for (let i = 0; i < leaves.length; i++) {
      const action = leaves[i]!;
      if (action.actionType === ActionType.LockEntities) lockSize = action.lockSet?.length ?? 0;
      if (i < this.#done.length) continue;
      const id = this.#nextSeq;
      const failure = this.#scheduleAction(action, id, lockSize);
      if (failure) return failure;
      this.#done.push([id, actionSignature(action)]);
    }
    return undefined;
  }

  #scheduleAction(action: Action, id: number, lockSize: number): { message: string; details: string } | undefined {
    const { instance_id: instanceId, execution_id: executionId } = this.row;
    switch (action.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry: {
        this.#nextSeq++;
        const input = toJson(decodeEncodedInput(action.input));
        if (action.actionType === ActionType.CallActivityWithRetry) this.#addRetry(id, 'activity', action, input);
        this.#startActivity(id, action.functionName!, input);
        return undefined;
      }
      case ActionType.CallSubOrchestrator:
      case ActionType.CallSubOrchestratorWithRetry: {
        this.#nextSeq++;
        const input = toJson(action.input);
        const childId = action.instanceId || `${instanceId}:${id}`;
        if (action.actionType === ActionType.CallSubOrchestratorWithRetry) {
          this.#addRetry(id, 'subOrchestration', action, input).childInstanceId = childId;
        }
        this.#startChild(id, action.functionName!, childId, input, action.version ?? '');
        return undefined;
      }
      case ActionType.CreateTimer: {
        this.#nextSeq++;
        const fireAt = fireAtIso(action.fireAt);
        this.#events.push(historyEvents.timerCreated(this.#at, id, fireAt));
        if (!action.isCanceled) this.#store.addTimer(instanceId, executionId, Date.parse(fireAt), historyEvents.timerFired(0, id, fireAt));
        return undefined;
      }
      case ActionType.CallEntity:
      case ActionType.SignalEntity: {
        this.#nextSeq++;
        const signal = action.actionType === ActionType.SignalEntity;
        const requestId = randomUUID();
        const input = action.input === undefined ? undefined : JSON.stringify(action.input);
        const message = { kind: 'op', op: action.operation, input, signal, requestId, parent: instanceId, parentExecution: executionId };
        this.#events.push(
          historyEvents.eventSent(this.#at, id, action.operation!, action.instanceId!, JSON.stringify({ id: requestId, op: action.operation, signal, input, parent: instanceId })),
        );
        this.#store.enqueueEntityMessage(action.instanceId!, message);
        return undefined;
      }
      case ActionType.LockEntities: {
        this.#nextSeq++;
        const targets = (action.lockSet ?? []).map((e) => `@${e.name.toLowerCase()}@${e.key}`);
        this.#events.push(
          historyEvents.eventSent(this.#at, id, 'op', targets[0] ?? '', JSON.stringify({ id: action.lockRequestId, op: null, lockset: targets, parent: instanceId })),
        );
        this.#store.enqueueEntityMessage(targets[0]!, {
          kind: 'lock', owner: instanceId, ownerExecution: executionId, lockRequestId: action.lockRequestId, remaining: targets.slice(1),
        });
        return undefined;
      }
      case ActionType.ReleaseEntities:
        this.#nextSeq += lockSize;
        this.#store.releaseLocksOf(instanceId);
        return undefined;
      case ActionType.CallHttp:
        this.#nextSeq++;
        this.#deliverFailure('activity', id, {
          reason: 'callHttp is not supported by the local durable engine: call HTTP endpoints from an activity',
          details: '',
        });
        return undefined;
      case ActionType.WaitForExternalEvent:
      case ActionType.ContinueAsNew:
        return undefined;
      default:
        return { message: `Orchestrator '${this.row.name}' returned an unknown action type ${action.actionType}`, details: JSON.stringify(action) };
    }
  }

  #addRetry(id: number, kind: RetryState['kind'], action: Action, input: string): RetryState {
    const options = action.retryOptions!;
    const state: RetryState = {
      kind, name: action.functionName!, input, version: action.version, options, failures: 0, startedAt: this.#at, currentId: id, phase: 'attempt',
    };
    this.#retries[String(id)] = state;
    return state;
  }

  #startActivity(id: number, name: string, input: string): void {
    this.#events.push(historyEvents.taskScheduled(this.#at, id, name, input));
    this.#store.enqueueActivity({ instance_id: this.row.instance_id, execution_id: this.row.execution_id, task_id: id, name, input, kind: 'activity' });
  }

  #startChild(id: number, name: string, childId: string, input: string, version: string): void {
    this.#events.push(historyEvents.subOrchestrationCreated(this.#at, id, name, childId, input));
    const result = startInstance(this.#store, this.#at, {
      instanceId: childId, name, version, input,
      parent: { instanceId: this.row.instance_id, executionId: this.row.execution_id, taskId: id },
    });
    if (!result.started) {
      this.#deliverFailure('subOrchestration', id, {
        reason: `Sub-orchestration instance '${childId}' already exists and is ${result.status}`,
        details: '',
      });
    }
  }

  #deliverFailure(kind: RetryState['kind'], id: number, failure: Failure): void {
    const event = kind === 'activity' ? historyEvents.taskFailed(this.#at, id, failure) : historyEvents.subOrchestrationFailed(this.#at, id, failure);
    this.#store.deliver(this.row.instance_id, this.row.execution_id, event);
  }

  /** Writes the history and the instance's counters; the row then reflects this episode. */
  save(customStatus: unknown): void {
    this.#store.appendHistory(this.row.instance_id, this.#events);
    const fields = {
      status: 'Running' as const,
      custom_status: customStatus === undefined ? null : toJson(customStatus),
      updated_at: this.#at,
      next_seq: this.#nextSeq,
      actions: JSON.stringify(this.#done),
      retries: JSON.stringify(this.#retries),
    };
    this.#store.updateInstance(this.row.instance_id, fields);
    Object.assign(this.row, fields);
  }

  finish(outcome: Outcome): void {
    finishInstance(this.#store, this.#at, this.row, outcome);
  }
}
