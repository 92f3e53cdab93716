/** Durable entities: one queued message at a time per entity (operations, lock requests), with critical-section locks. */
import { randomUUID } from 'node:crypto';
import type { FunctionInvoker } from '../engine-contract.ts';
import { historyEvents } from './history.ts';
import { isTerminal, type DurableStore, type EntityMessageRow, type EntityRow } from './store.ts';

/** An operation for an entity, from an orchestration (callEntity/signalEntity) or a client (signalEntity). */
export interface OperationMessage {
  kind: 'op';
  op: string;
  /** JSON text of the operation input, absent for none. */
  input?: string;
  signal: boolean;
  requestId: string;
  /** The orchestration to answer (callEntity), and the execution that asked. */
  parent?: string;
  parentExecution?: string;
}

/** One step of acquiring an orchestration's lock set, entity by entity in scheduler-id order. */
export interface LockMessage {
  kind: 'lock';
  owner: string;
  ownerExecution: string;
  lockRequestId: string;
  remaining: string[];
}

type EntityMessage = OperationMessage | LockMessage;

/** The entity trigger's result. */
interface EntityBatchResult {
  results: { isError: boolean; result?: string }[];
  signals: { target: { name: string; key: string }; name: string; input: string; requestId?: string }[];
  entityExists: boolean;
  entityState?: string;
}

/** `@name@key` (name lower-cased, as the SDK's scheduler ids) from a name and key. */
export function schedulerId(name: string, key: string): string {
  return `@${name.toLowerCase()}@${key}`;
}

export function parseSchedulerId(id: string): { name: string; key: string } {
  const at = id.indexOf('@', 1);
  return { name: id.slice(1, at), key: id.slice(at + 1) };
}

export function clientSignal(op: string, input: string | undefined): OperationMessage {
  return { kind: 'op', op, input, signal: true, requestId: randomUUID() };
}

/** A locked entity only serves its owner; an unlocked one serves its queue in order. */
function nextMessage(entity: EntityRow, rows: EntityMessageRow[]): { row: EntityMessageRow; message: EntityMessage } | undefined {
  for (const row of rows) {
    const message = JSON.parse(row.message) as EntityMessage;
    if (entity.lock_owner === null) return { row, message };
    const from = message.kind === 'lock' ? message.owner : message.parent;
    if (from === entity.lock_owner) return { row, message };
  }
  return undefined;
}

/** Processes the next eligible message of `entityId`; returns false when there was none. */
export async function runEntityStep(store: DurableStore, invoker: FunctionInvoker, now: () => number, entityId: string): Promise<boolean> {
  const entity = store.getEntity(entityId) ?? { entity_id: entityId, state: null, lock_owner: null };
  const next = nextMessage(entity, store.entityMessages(entityId));
  if (!next) return false;
  const { row, message } = next;

  if (message.kind === 'lock') {
    store.transaction(() => {
      store.deleteEntityMessage(row.id);
      // A lock request outlives its orchestration when that one finished or was terminated while waiting: drop it,
      // or the entity would stay locked by nobody.
      const owner = store.getInstance(message.owner);
      if (!owner || owner.execution_id !== message.ownerExecution || isTerminal(owner.status)) return;
      store.putEntity({ ...entity, lock_owner: message.owner });
      const [following, ...rest] = message.remaining;
      if (following !== undefined) store.enqueueEntityMessage(following, { ...message, remaining: rest });
      else store.deliver(message.owner, message.ownerExecution, historyEvents.eventRaised(now(), message.lockRequestId, undefined));
    });
    return true;
  }

  const self = parseSchedulerId(entityId);
  const functionName = invoker.find(self.name)?.name ?? self.name;
  let outcome: { result: EntityBatchResult } | { error: string };
  try {
    const result = (await invoker.invoke(functionName, {
      self,
      exists: entity.state !== null,
      state: entity.state ?? undefined,
      batch: [{ id: message.requestId, name: message.op, signal: message.signal, input: message.input }],
    }, { invocationId: randomUUID() })) as EntityBatchResult;
    outcome = { result };
  } catch (error) {
    outcome = { error: error instanceof Error ? error.message : String(error) };
  }

  store.transaction(() => {
    store.deleteEntityMessage(row.id);
    let response: string;
    const failed = `Entity operation '${message.op}' on ${entityId} failed`;
    if ('error' in outcome) {
      response = JSON.stringify({ result: JSON.stringify(`${failed}: ${outcome.error}`), exceptionType: 'Error' });
    } else {
      const { result } = outcome;
      const stateAfter = result.entityExists ? (result.entityState ?? null) : null;
      store.putEntity({ ...entity, state: stateAfter });
      for (const signal of result.signals) {
        store.enqueueEntityMessage(schedulerId(signal.target.name, signal.target.key), clientSignal(signal.name, signal.input || undefined));
      }
      const first = result.results[0];
      // The SDK serializes a thrown Error as "{}", so the message names the operation instead.
      response = first?.isError
        ? JSON.stringify({ result: JSON.stringify(failed), exceptionType: 'Error' })
        : JSON.stringify({ result: first?.result ?? 'null' });
    }
    if (!message.signal && message.parent !== undefined) {
      store.deliver(message.parent, message.parentExecution ?? null, historyEvents.eventRaised(now(), message.requestId, response));
    }
  });
  return true;
}
