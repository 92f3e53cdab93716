/** Registers the timers: patch rebuilds, source-update rebuilds and the janitor (handlers in src/api). */

import * as df from 'durable-functions';
import { runJanitor } from '../src/api/janitor-timer.ts';
import { runPatchRebuilds, runSourceUpdateRebuilds } from '../src/api/scheduled-rebuilds.ts';

// Each template's own NCRONTAB (schedule.patch) is evaluated on every tick; 5 minutes is the finest it can fire.
df.app.client.timer('patchRebuilds', { schedule: '0 */5 * * * *', handler: runPatchRebuilds });
// Marketplace images publish a few times a month; an hourly look is prompt enough.
df.app.client.timer('sourceUpdateRebuilds', { schedule: '0 0 * * * *', handler: runSourceUpdateRebuilds });
// A terminated bake's lock and staging group are freed within minutes; the sweep also deletes expired groups and
// purges finished durable instances.
df.app.client.timer('janitor', { schedule: '0 */5 * * * *', handler: runJanitor });
