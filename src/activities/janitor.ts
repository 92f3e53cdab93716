/** The janitor: deletes staging groups whose kiln-expires-at has passed, so no crashed or terminated bake leaves cost behind. */

import type { AzureClients } from '../azure/clients.ts';
import { listResourceGroupsByTag, startResourceGroupDelete, TAG_EXPIRES_AT, TAG_MANAGED } from '../azure/resourceGroups.ts';
import { activityEnvironment } from './environment.ts';

export interface SweepResult {
  /** Groups whose deletion was started now. */
  deleting: string[];
  /** Expired groups already being deleted. */
  alreadyDeleting: string[];
}

/** Starts deleting every Kiln staging group that expired before `now`; does not wait for the deletions. */
export async function sweepExpiredStagingGroups(now: Date, clients: AzureClients = activityEnvironment().clients): Promise<SweepResult> {
  const result: SweepResult = { deleting: [], alreadyDeleting: [] };
  for (const group of await listResourceGroupsByTag(clients, TAG_MANAGED, 'true')) {
    const expiresAt = Date.parse(group.tags[TAG_EXPIRES_AT] ?? '');
    // A group without a readable expiry was not made by this janitor's rules: leave it for a human.
    if (!Number.isFinite(expiresAt) || expiresAt > now.getTime()) continue;
    if (group.provisioningState === 'Deleting') {
      result.alreadyDeleting.push(group.name);
      continue;
    }
    await startResourceGroupDelete(clients, group.name);
    result.deleting.push(group.name);
  }
  return result;
}
