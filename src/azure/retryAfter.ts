/**
 * Catches the Retry-After an Azure long-running operation sends on its status polls, so the orchestration can wait
 * as long as Azure asks (the SDK poller keeps response headers to itself). A pipeline policy writes into the
 * async context of the poll that asked for it.
 */

import { AsyncLocalStorage } from 'node:async_hooks';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';

const observed = new AsyncLocalStorage<{ ms?: number }>();

/** Seconds or an HTTP date, as ARM sends it; undefined for anything else. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

export const retryAfterPolicy: PipelinePolicy = {
  name: 'kilnRetryAfter',
  async sendRequest(request, next) {
    const response = await next(request);
    const store = observed.getStore();
    if (store) {
      const ms = parseRetryAfter(response.headers.get('retry-after') ?? undefined);
      if (ms !== undefined) store.ms = ms;
    }
    return response;
  },
};

/** Runs `call` and reports the last Retry-After any of its responses carried. */
export async function observeRetryAfter<T>(call: () => Promise<T>): Promise<{ value: T; retryAfterMs?: number }> {
  const store: { ms?: number } = {};
  const value = await observed.run(store, call);
  return store.ms === undefined ? { value } : { value, retryAfterMs: store.ms };
}
