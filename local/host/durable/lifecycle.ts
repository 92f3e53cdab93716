/** Instance lifecycle changes (start, finish, continue-as-new, terminate, suspend, resume, raise, purge), each
 * meant to run inside one store transaction. */
import { randomUUID } from 'node:crypto';
import { historyEvents, type HistoryEvent } from './history.ts';
import { isTerminal, type DurableStore, type InstanceRow, type RuntimeStatus } from './store.ts';

export interface StartRequest {
  instanceId: string;
  name: string;
  version: string;
  /** JSON text of the input. */
  input: string;
  parent?: { instanceId: string; executionId: string; taskId: number };
}

/**
 * Creates (or recreates, when the old one finished or `replaceRunning` says any state may be replaced) an instance and
 * queues its ExecutionStarted. A replaced execution's queued work goes with it; what it had in flight lands nowhere.
 */
export function startInstance(store: DurableStore, now: number, request: StartRequest, options: { replaceRunning?: boolean } = {}): { started: true } | { started: false; status: RuntimeStatus } {
  const existing = store.getInstance(request.instanceId);
  if (existing && !isTerminal(existing.status) && !options.replaceRunning) return { started: false, status: existing.status };
  if (existing) store.deleteInstance(request.instanceId);
  const executionId = randomUUID();
  store.insertInstance({
    instance_id: request.instanceId,
    name: request.name,
    version: request.version,
    execution_id: executionId,
    status: 'Pending',
    input: request.input,
    output: null,
    custom_status: null,
    parent_instance_id: request.parent?.instanceId ?? null,
    parent_execution_id: request.parent?.executionId ?? null,
    parent_task_id: request.parent?.taskId ?? null,
    created_at: now,
    updated_at: now,
    next_seq: 0,
    actions: '[]',
    retries: '{}',
  });
  const started = historyEvents.executionStarted(now, {
    name: request.name,
    version: request.version,
    input: request.input,
    instanceId: request.instanceId,
    executionId,
  });
  store.deliver(request.instanceId, executionId, started);
  return { started: true };
}

export type Outcome =
  | { status: 'Completed'; output: string }
  | { status: 'Failed'; message: string; details: string }
  | { status: 'Terminated'; reason: string };

/** Moves an instance to a final state: records it, drops its queued work, frees its locks, tells its parent. */
export function finishInstance(store: DurableStore, now: number, row: InstanceRow, outcome: Outcome): void {
  const output =
    outcome.status === 'Completed' ? outcome.output : JSON.stringify(outcome.status === 'Failed' ? outcome.message : outcome.reason);
  const closing: HistoryEvent =
    outcome.status === 'Completed'
      ? historyEvents.executionCompleted(now, outcome.output)
      : outcome.status === 'Failed'
        ? historyEvents.executionFailed(now, outcome.message)
        : historyEvents.executionTerminated(now, outcome.reason);
  store.appendHistory(row.instance_id, [closing]);
  store.updateInstance(row.instance_id, { status: outcome.status, output, updated_at: now });
  store.clearWork(row.instance_id);
  store.releaseLocksOf(row.instance_id);
  if (row.parent_instance_id === null || row.parent_task_id === null) return;
  const parentEvent =
    outcome.status === 'Completed'
      ? historyEvents.subOrchestrationCompleted(now, row.parent_task_id, outcome.output)
      : historyEvents.subOrchestrationFailed(now, row.parent_task_id, {
          reason:
            outcome.status === 'Failed'
              ? `Sub-orchestration '${row.name}' (instance '${row.instance_id}') failed: ${outcome.message}`
              : `Sub-orchestration '${row.name}' (instance '${row.instance_id}') was terminated: ${outcome.reason}`,
          details: outcome.status === 'Failed' ? outcome.details : '',
        });
  store.deliver(row.parent_instance_id, row.parent_execution_id, parentEvent);
}

/** Starts a new execution of the same instance with `input` (JSON text); `carried` raised events go along. */
export function continueAsNew(store: DurableStore, now: number, row: InstanceRow, input: string, carried: HistoryEvent[]): void {
  const executionId = randomUUID();
  store.clearHistory(row.instance_id);
  // Completions meant for the old execution are dropped by the next episode (their execution id no longer matches);
  // its timers and queued activities go now.
  store.clearWorkOfExecution(row.instance_id, row.execution_id);
  store.releaseLocksOf(row.instance_id);
  store.updateInstance(row.instance_id, {
    execution_id: executionId,
    input,
    status: 'Running',
    output: null,
    updated_at: now,
    next_seq: 0,
    actions: '[]',
    retries: '{}',
  });
  const started = historyEvents.executionStarted(now, {
    name: row.name,
    version: row.version,
    input,
    instanceId: row.instance_id,
    executionId,
  });
  store.deliver(row.instance_id, executionId, started);
  for (const event of carried) store.deliver(row.instance_id, null, event);
}

export type ControlResult = 'accepted' | 'not-found' | 'gone';

export function terminateInstance(store: DurableStore, now: number, instanceId: string, reason: string): ControlResult {
  const row = store.getInstance(instanceId);
  if (!row) return 'not-found';
  if (isTerminal(row.status)) return 'gone';
  finishInstance(store, now, row, { status: 'Terminated', reason });
  return 'accepted';
}

export function suspendInstance(store: DurableStore, now: number, instanceId: string, reason: string): ControlResult {
  const row = store.getInstance(instanceId);
  if (!row) return 'not-found';
  if (isTerminal(row.status)) return 'gone';
  if (row.status !== 'Suspended') {
    store.appendHistory(instanceId, [historyEvents.executionSuspended(now, reason)]);
    store.updateInstance(instanceId, { status: 'Suspended', updated_at: now });
  }
  return 'accepted';
}

export function resumeInstance(store: DurableStore, now: number, instanceId: string, reason: string): ControlResult {
  const row = store.getInstance(instanceId);
  if (!row) return 'not-found';
  if (isTerminal(row.status)) return 'gone';
  if (row.status === 'Suspended') {
    store.appendHistory(instanceId, [historyEvents.executionResumed(now, reason)]);
    store.updateInstance(instanceId, { status: 'Running', updated_at: now });
  }
  return 'accepted';
}

/** Queues an external event; events raised before the orchestrator waits are kept until it does. */
export function raiseEvent(store: DurableStore, now: number, instanceId: string, name: string, input: string | undefined): ControlResult {
  const row = store.getInstance(instanceId);
  if (!row) return 'not-found';
  if (isTerminal(row.status)) return 'gone';
  store.deliver(instanceId, null, historyEvents.eventRaised(now, name, input));
  return 'accepted';
}

/** Deletes a finished instance with its history; running instances are left alone (0 deleted). */
export function purgeInstance(store: DurableStore, instanceId: string): number {
  const row = store.getInstance(instanceId);
  if (!row || !isTerminal(row.status)) return 0;
  store.deleteInstance(instanceId);
  return 1;
}
