/**
 * Completion webhooks: when a bake ends, each URL in the template's `notify.webhooks` receives the run record.
 * The bake only starts orchestration `notifyWebhooks` and moves on; deliveries retry with backoff on their own.
 */

import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import type { NotifyCompletionInput } from '../activities/contracts.ts';
import type { RunRecord } from '../runs/record.ts';
import { postJson, RefusedTarget } from './outbound.ts';
import { services } from './services.ts';

export const NOTIFY_ORCHESTRATION = 'notifyWebhooks';
export const POST_WEBHOOK_ACTIVITY = 'postWebhook';

/** A slow receiver must not hold an activity: each attempt gives up after this long. */
const WEBHOOK_TIMEOUT_MS = 10_000;

export interface NotifyWebhooksInput {
  runId: string;
  webhooks: string[];
}

export interface PostWebhookInput {
  runId: string;
  url: string;
}

export type PostWebhookOutput = { delivered: true; status: number } | { delivered: false; status: number; reason: string };

/** The delivery schedule: 5 s, 10 s, 20 s … capped at 5 min, 8 attempts (about 15 minutes in all). */
export function webhookRetryOptions(): df.RetryOptions {
  const options = new df.RetryOptions(5_000, 8);
  options.backoffCoefficient = 2;
  options.maxRetryIntervalInMilliseconds = 300_000;
  return options;
}

/** The URLs a run's template lists (none for a run without a spec, e.g. a refused template). */
export function webhooksOf(record: RunRecord): string[] {
  return record.spec?.notify.webhooks ?? [];
}

/** Activity notifyCompletion: starts the deliveries (once per run: the instance id is derived from it) and returns. */
export async function notifyCompletion(input: NotifyCompletionInput, context: InvocationContext): Promise<void> {
  const webhooks = webhooksOf(input.record);
  if (webhooks.length === 0) return;
  const client = df.getClient(context);
  const instanceId = `${input.record.id}:notify`;
  // A re-run of this activity finds the deliveries already started.
  const existing = await client.getStatus(instanceId).catch(() => undefined);
  if (existing?.runtimeStatus) return;
  const orchestrationInput: NotifyWebhooksInput = { runId: input.record.id, webhooks };
  await client.startNew(NOTIFY_ORCHESTRATION, { instanceId, input: orchestrationInput });
}

/** Orchestration notifyWebhooks: every URL in parallel, each retried with backoff; one failing never stops another. */
export function* notifyWebhooks(context: OrchestrationContext): Generator<df.Task, PostWebhookOutput[], unknown> {
  const input = context.df.getInput<NotifyWebhooksInput>();
  const deliveries = input.webhooks.map((url) =>
    context.df.callActivityWithRetry(POST_WEBHOOK_ACTIVITY, webhookRetryOptions(), { runId: input.runId, url } satisfies PostWebhookInput));
  const outcomes: PostWebhookOutput[] = [];
  // Task.all would fail as a whole at the first URL that gives up; each delivery is awaited on its own instead.
  for (const [i, delivery] of deliveries.entries()) {
    try {
      outcomes.push((yield delivery) as PostWebhookOutput);
    } catch (error) {
      outcomes.push({ delivered: false, status: 0, reason: `${input.webhooks[i]}: ${(error as Error).message}` });
    }
  }
  return outcomes;
}

/**
 * Activity postWebhook: one POST of the run record. 2xx delivers; 408, 429 and 5xx (and network errors) throw so
 * the orchestration retries; any other 4xx is final (the receiver refuses it, retrying will not help), and so is a
 * target on a link-local, metadata or (unless KILN_ALLOW_PRIVATE_TARGETS) private address: nothing is sent there.
 */
export async function postWebhook(input: PostWebhookInput): Promise<PostWebhookOutput> {
  const { runs, config } = await services();
  const record = await runs.get(input.runId);
  if (!record) return { delivered: false, status: 0, reason: `run ${input.runId} has no record` };
  const { spec: _spec, ...payload } = record;
  let status: number;
  try {
    status = await postJson(input.url, JSON.stringify(payload), {
      headers: { 'content-type': 'application/json', 'user-agent': 'kiln-webhook', 'x-kiln-run-id': record.id },
      timeoutMs: WEBHOOK_TIMEOUT_MS,
      allowPrivate: config.allowPrivateTargets,
    });
  } catch (error) {
    if (error instanceof RefusedTarget) return { delivered: false, status: 0, reason: `webhook ${input.url} not sent: ${error.message}` };
    throw error;
  }
  if (status >= 200 && status < 300) return { delivered: true, status };
  if (status === 408 || status === 429 || status >= 500) {
    throw new Error(`webhook ${input.url} answered HTTP ${status}; will retry`);
  }
  return { delivered: false, status, reason: `webhook ${input.url} refused the record (HTTP ${status})` };
}
