/** Step 8, replicate: one update sets every target region (Azure copies them in parallel); progress is read per region. */

import { permanentError } from '../azure/errors.ts';
import { getImageVersion, regionReplication, startReplication } from '../azure/galleries.ts';
import type { BeginReplicationInput, OperationStatus, ReadReplicationInput, ReadReplicationOutput } from './contracts.ts';
import { activityEnvironment } from './environment.ts';
import { operationStatus, outcome, statusOf } from './outcomes.ts';
import { lookQuickly, quickLookWindow } from './quick-looks.ts';

/** Replicas belong to the version; deleting the version (or never promoting it) is their undo. */
export async function beginReplication({ imageVersionId, regions }: BeginReplicationInput): Promise<OperationStatus> {
  return operationStatus(async () => statusOf(await startReplication(activityEnvironment().clients, imageVersionId, regions)));
}

/** One read of the region's replication; with `watchMs`, quick looks for up to that long while it is still under way. */
export async function readReplication({ imageVersionId, region, watchMs }: ReadReplicationInput): Promise<ReadReplicationOutput> {
  const read = () =>
    outcome(async () => {
      const version = await getImageVersion(activityEnvironment().clients, imageVersionId, { replicationStatus: true });
      if (!version) throw permanentError(`replicate: gallery image version ${imageVersionId} does not exist`, { code: 'NotFound', resourceId: imageVersionId });
      return regionReplication(version, region);
    });
  const startedAt = Date.now();
  const first = await read();
  if (!watchMs) return first;
  const underWay = (answer: ReadReplicationOutput) => answer.ok && (answer.value.state === 'Replicating' || answer.value.state === 'Unknown');
  return lookQuickly(first, read, underWay, quickLookWindow(startedAt, watchMs));
}
