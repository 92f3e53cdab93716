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
    // History written before the refs were typed may hold a kind (or shape) no poller knows any more.
    if (!Object.hasOwn(pollers, ref.kind)) {
      return { state: 'Failed', error: { code: 'UnknownOperation', message: `pollOperation: no poller for operation kind ${JSON.stringify(ref.kind)}`, retryable: false, resourceId: ref.resourceId } };
    }
    return pollKind(activityEnvironment(), ref.kind, ref);
  });
}
