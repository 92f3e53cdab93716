/** The Functions app entry: importing each registration file registers its functions with the host. */

import './activities.ts';
import './orchestrations.ts';
import './http.ts';
import './blob.ts';
import './timers.ts';
import './notifications.ts';
import { warmUp } from './warm-up.ts';

warmUp();
