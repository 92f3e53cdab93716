/**
 * pollOperation: one look at any operation a begin… activity started. Each step module exports the pollers of the
 * operation kinds it begins; the table here joins them, and its type makes a kind without a poller a compile error.
 */

import type { OperationKind, OperationRef, PollOperationInput, PollOperationOutput } from './contracts.ts';
import { capturePollers } from './capture.ts';
import { customizePollers } from './customize.ts';
import { activityEnvironment, type ActivityEnvironment } from './environment.ts';
import { generalizePollers } from './generalize.ts';
import { azureOperationPollers, operationStatus } from './outcomes.ts';
import { cleanupPollers } from './stage-group.ts';
import { vhdExportPollers } from './vhd-export.ts';
import { windowsRestartPollers } from './windows-restart.ts';
import { windowsUpdatePollers } from './windows-update.ts';

/** The operation reference of one kind. */
export type RefOf<K extends OperationKind> = Extract<OperationRef, { kind: K }>;

/** One look at an operation of kind K. */
export type Poller<K extends OperationKind> = (env: ActivityEnvironment, ref: RefOf<K>) => Promise<PollOperationOutput>;

/** Pollers keyed by the kinds they poll (a step module exports those of the kinds it begins). */
export type Pollers<K extends OperationKind> = { [P in K]: Poller<P> };

const pollers: Pollers<OperationKind> = {
  ...azureOperationPollers,
  ...customizePollers,
  ...windowsRestartPollers,
  ...windowsUpdatePollers,
  ...generalizePollers,
  ...capturePollers,
  ...vhdExportPollers,
  ...cleanupPollers,
};

function pollKind<K extends OperationKind>(env: ActivityEnvironment, kind: K, ref: RefOf<K>): Promise<PollOperationOutput> {
  const poll: Poller<K> = pollers[kind];
  return poll(env, ref);
}

export async function pollOperation(ref: PollOperationInput): Promise<PollOperationOutput> {
  return operationStatus(async () => {
    // History written by an earlier Kiln may hold a kind no poller knows, or a ref in the old `data` bag shape.
    if (!Object.hasOwn(pollers, ref.kind) || 'data' in ref) {
      const message = `pollOperation: operation kind ${JSON.stringify(ref.kind)} is not one this Kiln polls, or its reference has an older shape (begun by an earlier version); run the bake again`;
      return { state: 'Failed', error: { code: 'UnknownOperation', message, retryable: false, resourceId: ref.resourceId } };
    }
    return pollKind(activityEnvironment(), ref.kind, ref);
  });
}
