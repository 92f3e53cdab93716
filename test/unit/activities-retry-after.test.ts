// Azure's Retry-After on a long-running operation's status poll reaches the orchestration as retryAfterMs.
import { createHttpHeaders, type HttpClient, type PipelineRequest } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import { createAzureClients } from '../../src/azure/clients.ts';
import { pollOperationHandle } from '../../src/azure/operations.ts';
import { startResourceGroupDelete } from '../../src/azure/resourceGroups.ts';
import { parseRetryAfter } from '../../src/azure/retryAfter.ts';
import { loadConfig } from '../../src/config.ts';

const ARM = 'https://arm.example.test';

/** A resource-group delete that runs for two polls, the first answered with Retry-After: 7. */
function fakeArm(): HttpClient {
  let polls = 0;
  return {
    async sendRequest(request: PipelineRequest) {
      const reply = (status: number, headers: Record<string, string> = {}) => ({ request, status, headers: createHttpHeaders(headers), bodyAsText: '' });
      const url = new URL(request.url);
      if (request.method === 'HEAD') return reply(204);
      if (request.method === 'DELETE') return reply(202, { location: `${ARM}/subscriptions/s/operationresults/op1?api-version=2025-04-01` });
      if (url.pathname.includes('/operationresults/')) return ++polls === 1 ? reply(202, { 'retry-after': '7' }) : reply(200);
      return reply(404);
    },
  };
}

describe('Retry-After', () => {
  it('is reported with a poll that finds the operation still running', async () => {
    const config = loadConfig({ KILN_SUBSCRIPTION_ID: 's', KILN_ARM_ENDPOINT: ARM, KILN_STATIC_TOKEN: 't', AzureWebJobsStorage: 'UseDevelopmentStorage=true' });
    const clients = createAzureClients(config, { httpClient: fakeArm() });
    const handle = await startResourceGroupDelete(clients, 'kiln-staging-x');
    expect(handle).toMatchObject({ kind: 'lro', resourceId: '/subscriptions/s/resourceGroups/kiln-staging-x' });
    const restored = JSON.parse(JSON.stringify(handle)); // as it comes back out of orchestration history
    expect(await pollOperationHandle(clients, restored)).toEqual({ done: false, retryAfterMs: 7000 });
    expect(await pollOperationHandle(clients, restored)).toMatchObject({ done: true });
  });

  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('Wed, 25 Nov 2026 13:00:10 GMT', Date.parse('2026-11-25T13:00:00Z'))).toBe(10_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});
