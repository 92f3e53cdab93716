/**
 * What a worker prepares as it starts, before its first invocation (Azure's worker imports the app entry at start, as
 * the local host does): the stores' containers and the build VM's key, so the first request and bake do not wait.
 */

import { activityEnvironment } from '../src/activities/environment.ts';
import { prepareUnusableSshKey } from '../src/activities/stage-vm.ts';
import { services } from '../src/api/services.ts';

/** Fire and forget: a failure here is met again, and reported, by the first request or activity that needs it. */
export function warmUp(): void {
  const steps: (() => Promise<unknown>)[] = [() => services(), () => activityEnvironment().runStore(), () => prepareUnusableSshKey()];
  for (const step of steps) Promise.resolve().then(step).catch(() => undefined);
}
