import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/runs/record.ts';
import { describeRun, exampleTemplate, startTestDefault, waitForEnd, type TestDefault } from './triggers-support.ts';

let env: TestDefault;
let receiver: Server;
let receiverUrl: string;
const received: { path: string; runId: string | undefined; record: RunRecord }[] = [];
let failuresLeft = 0;

beforeAll(async () => {
  env = await startTestDefault();
  // A receiver that fails its first calls with 503, so deliveries must retry.
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.url === '/refuses') return res.writeHead(410).end();
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        return res.writeHead(503).end();
      }
      received.push({ path: req.url!, runId: req.headers['x-kiln-run-id'] as string | undefined, record: JSON.parse(body) as RunRecord });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await env?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

describe('completion webhooks', () => {
  it('each listed URL receives the final run record, retried with backoff, without holding the bake', async () => {
    const template = await exampleTemplate('ubuntu-web', env.local);
    const properties = template.properties as Record<string, unknown>;
    delete properties.schedule;
    properties.notify = { webhooks: [`${receiverUrl}/hook`, `${receiverUrl}/refuses`] };
    failuresLeft = 1;

    const started = await env.client.startBake(template, { templateName: 'notified-web' });
    const run = await waitForEnd(env.client, started.id);
    expect(run.status, describeRun(run)).toBe('Succeeded');

    // The first delivery fails (503); the retry comes after the first backoff interval on the host's clock.
    const clock = env.local.host!.clock;
    const deadline = Date.now() + 30_000;
    while (!received.some((r) => r.runId === run.id)) {
      if (Date.now() > deadline) throw new Error('the webhook never received the run record');
      await clock.advance(5_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const delivery = received.find((r) => r.runId === run.id)!;
    expect(delivery.path).toBe('/hook');
    expect(delivery.record).toMatchObject({ id: run.id, status: 'Succeeded', outputs: { version: run.outputs.version } });
    expect(delivery.record).not.toHaveProperty('spec');
    expect(received.filter((r) => r.runId === run.id)).toHaveLength(1);
  });
});
