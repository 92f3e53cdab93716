/** Registers completion webhooks: the bake's notifyCompletion activity, the delivery orchestration and its activity. */

import * as df from 'durable-functions';
import { Activity } from '../src/activities/contracts.ts';
import {
  NOTIFY_ORCHESTRATION, POST_WEBHOOK_ACTIVITY, notifyCompletion, notifyWebhooks, postWebhook,
} from '../src/api/notifications.ts';

df.app.activity(Activity.notifyCompletion, { handler: notifyCompletion, extraInputs: [df.input.durableClient()] });
df.app.orchestration(NOTIFY_ORCHESTRATION, notifyWebhooks);
df.app.activity(POST_WEBHOOK_ACTIVITY, { handler: postWebhook });
