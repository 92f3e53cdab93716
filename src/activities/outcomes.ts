/**
 * How activities answer (contracts.ts): transient failures are thrown for callActivityWithRetry, permanent ones
 * and failed operations are returned as a StepFailure so the bake fails fast with a clear message.
 */

import { classifyAzureError, KilnStepError, quotaRefusal } from '../azure/errors.ts';
import { pollOperationHandle, type OperationHandle } from '../azure/operations.ts';
import type { AzureClients } from '../azure/clients.ts';
import type { OperationStatus, Outcome, StepFailure } from './contracts.ts';
import type { Pollers } from './poll.ts';

/** The StepFailure for an error; messages from Kiln's adapters already name the resource. */
export function stepFailure(err: unknown): StepFailure {
  if (err instanceof KilnStepError) {
    const quota = quotaRefusal(err.code, err.statusCode, err.message);
    return {
      code: err.code ?? (err.retryable ? 'TransientFailure' : 'Failed'),
      message: err.message,
      retryable: err.retryable,
      ...(err.resourceId ? { resourceId: err.resourceId } : {}),
      ...(quota ? { quota } : {}),
    };
  }
  const c = classifyAzureError(err);
  const quota = quotaRefusal(c.code, c.statusCode, c.detail);
  return { code: c.code ?? 'Failed', message: c.detail, retryable: c.retryable, ...(quota ? { quota } : {}) };
}

/** A refused request worth repeating (429, 5xx, a dropped connection): the orchestration's retry policy owns it. */
function isTransientRequest(err: unknown): boolean {
  if (err instanceof KilnStepError) return err.retryable && !err.operationFailed;
  const c = classifyAzureError(err);
  return c.retryable && !c.operationFailed;
}

/** Runs a begin…/poll body: transient errors propagate, everything else becomes `{ state: 'Failed' }`. */
export async function operationStatus(body: () => Promise<OperationStatus>): Promise<OperationStatus> {
  try {
    return await body();
  } catch (err) {
    if (isTransientRequest(err)) throw err;
    return { state: 'Failed', error: stepFailure(err) };
  }
}

/** Runs a read: transient errors propagate, everything else becomes `{ ok: false }`. */
export async function outcome<T>(body: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await body() };
  } catch (err) {
    if (isTransientRequest(err)) throw err;
    return { ok: false, error: stepFailure(err) };
  }
}

/** An adapter's started operation as the orchestration carries it (nothing started means it is done). */
export function statusOf(handle: OperationHandle | undefined): OperationStatus {
  return handle ? { state: 'InProgress', operation: handle } : { state: 'Succeeded' };
}

/** Several operations started together (NSG and VNet), travelling as one: done when all are. */
export interface AllRef {
  kind: 'all';
  resourceId: string;
  /** The ones still running. */
  operations: OperationHandle[];
}

export function statusOfAll(handles: OperationHandle[], resourceId: string): OperationStatus {
  if (handles.length === 0) return { state: 'Succeeded' };
  if (handles.length === 1) return statusOf(handles[0]);
  return { state: 'InProgress', operation: { kind: 'all', resourceId, operations: handles } };
}

async function pollHandle(clients: AzureClients, handle: OperationHandle): Promise<OperationStatus> {
  const status = await pollOperationHandle(clients, handle);
  if (status.done) return { state: 'Succeeded' };
  return { state: 'InProgress', operation: handle, ...(status.retryAfterMs !== undefined ? { retryAfterMs: status.retryAfterMs } : {}) };
}

async function pollAll(clients: AzureClients, ref: AllRef): Promise<OperationStatus> {
  const running: OperationHandle[] = [];
  for (const handle of ref.operations) {
    if (!(await pollOperationHandle(clients, handle)).done) running.push(handle);
  }
  if (running.length === 0) return { state: 'Succeeded' };
  return { state: 'InProgress', operation: { ...ref, operations: running } };
}

/** The plain Azure operations every begin… without a step-specific wait returns. */
export const azureOperationPollers: Pollers<OperationHandle['kind'] | AllRef['kind']> = {
  lro: (env, ref) => pollHandle(env.clients, ref),
  'vm-provisioning': (env, ref) => pollHandle(env.clients, ref),
  all: (env, ref) => pollAll(env.clients, ref),
};
