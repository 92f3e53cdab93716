/** The janitor timer's handler: deletes expired staging resource groups, so no crashed or terminated bake leaves any. */

import type { InvocationContext, Timer } from '@azure/functions';
import { sweepExpiredStagingGroups } from '../activities/janitor.ts';
import { tickTime } from './scheduled-rebuilds.ts';

export async function runJanitor(timer: Timer, context: InvocationContext): Promise<void> {
  const result = await sweepExpiredStagingGroups(tickTime(timer));
  if (result.deleting.length) context.log(`janitor: deleting expired staging groups ${result.deleting.join(', ')}`);
  if (result.alreadyDeleting.length) context.log(`janitor: already deleting ${result.alreadyDeleting.join(', ')}`);
}
