/** The Functions app entry: importing each registration file registers its functions with the host. */

import './activities.ts';
import './orchestrations.ts';
import './http.ts';
import './blob.ts';
import './timers.ts';
import './notifications.ts';
import { app } from '@azure/functions';
import { warmUp } from '../src/api/warm-up.ts';

// Before the worker's first invocation: the first request and bake then find the stores open (src/api/warm-up.ts).
app.hook.appStart(() => warmUp());
