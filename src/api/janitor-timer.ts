/**
 * The janitor timer's handler: closes runs whose bake was terminated or lost (their staging groups and image locks
 * too), deletes expired staging groups, and purges finished durable instances after the retention.
 */

import type { InvocationContext, Timer } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import { sweepExpiredStagingGroups } from '../activities/janitor.ts';
import { closeAbandonedRuns, purgeFinishedInstances } from './housekeeping.ts';
import { tickTime } from './scheduled-rebuilds.ts';
import { services } from './services.ts';

export async function runJanitor(timer: Timer, client: DurableClient, context: InvocationContext): Promise<void> {
  const now = tickTime(timer);
  const { runs, azure, config } = await services();
  const { closed, failed } = await closeAbandonedRuns({ client, runs, azure }, now);
  if (closed.length) context.log(`janitor: closed runs whose bake ended without them: ${closed.join(', ')}`);
  if (failed.length) context.warn(`janitor: will try again to close ${failed.join('; ')}`);
  const result = await sweepExpiredStagingGroups(now, azure);
  if (result.deleting.length) context.log(`janitor: deleting expired staging groups ${result.deleting.join(', ')}`);
  if (result.alreadyDeleting.length) context.log(`janitor: already deleting ${result.alreadyDeleting.join(', ')}`);
  const purged = await purgeFinishedInstances(client, now, config.instanceRetentionHours);
  if (purged) context.log(`janitor: purged ${purged} finished durable instances older than ${config.instanceRetentionHours} h`);
}
