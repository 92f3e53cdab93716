/** Step 9, promote: after replication and validation, the version becomes visible as "latest" (unless the template says not). */

import { startSetExcludeFromLatest } from '../azure/galleries.ts';
import type { BeginPromoteInput, OperationStatus } from './contracts.ts';
import { activityEnvironment } from './environment.ts';
import { operationStatus, statusOf } from './outcomes.ts';

/** Undo is the same call with excludeFromLatest=true. */
export async function beginPromote({ imageVersionId, excludeFromLatest }: BeginPromoteInput): Promise<OperationStatus> {
  return operationStatus(async () => statusOf(await startSetExcludeFromLatest(activityEnvironment().clients, imageVersionId, excludeFromLatest)));
}
