/** Step 8, replicate: one update sets every target region (Azure copies them in parallel); progress is read per region. */

import { permanentError } from '../azure/errors.ts';
import { getImageVersion, regionReplication, startReplication } from '../azure/galleries.ts';
import type { BeginReplicationInput, OperationStatus, ReadReplicationInput, ReadReplicationOutput } from './contracts.ts';
import { activityEnvironment } from './environment.ts';
import { operationStatus, outcome, statusOf } from './outcomes.ts';

/** Replicas belong to the version; deleting the version (or never promoting it) is their undo. */
export async function beginReplication({ imageVersionId, regions }: BeginReplicationInput): Promise<OperationStatus> {
  return operationStatus(async () => statusOf(await startReplication(activityEnvironment().clients, imageVersionId, regions)));
}

export async function readReplication({ imageVersionId, region }: ReadReplicationInput): Promise<ReadReplicationOutput> {
  return outcome(async () => {
    const version = await getImageVersion(activityEnvironment().clients, imageVersionId, { replicationStatus: true });
    if (!version) throw permanentError(`replicate: gallery image version ${imageVersionId} does not exist`, { code: 'NotFound', resourceId: imageVersionId });
    return regionReplication(version, region);
  });
}
