import { InvocationContext } from '@azure/functions';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import * as df from 'durable-functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleTemplateDrop } from '../../src/api/template-drop.ts';
import type { RunRecord } from '../../src/runs/record.ts';
import { describeRun, exampleTemplate, startTestDefault, waitForEnd, waitForRun, type TestDefault } from './triggers-support.ts';

let env: TestDefault;
let templates: ContainerClient;

beforeAll(async () => {
  env = await startTestDefault();
  templates = BlobServiceClient.fromConnectionString(env.local.blobConnectionString).getContainerClient('templates');
});

afterAll(async () => {
  await env?.close();
});

async function drop(name: string, template: unknown): Promise<void> {
  const body = JSON.stringify(template);
  await templates.getBlockBlobClient(`${name}.json`).upload(body, Buffer.byteLength(body));
}

async function blobRuns(name: string): Promise<RunRecord[]> {
  const page = await env.client.listRuns<RunRecord>({ limit: 100 });
  return page.items.filter((r) => r.templateName === name && r.trigger === 'blob');
}

describe('blob trigger', () => {
  it('a template dropped into templates/ bakes once per blob version', async () => {
    const template = await exampleTemplate('ubuntu-web', env.local);
    delete (template.properties as Record<string, unknown>).schedule;
    await drop('dropped-web', template);

    const first = await waitForRun(env.client, (r) => r.templateName === 'dropped-web' && r.trigger === 'blob');
    const done = await waitForEnd(env.client, first.id);
    expect(done.status, describeRun(done)).toBe('Succeeded');
    expect(done.outputs.version).toMatch(/^1\.0\.\d+$/);
    expect(done.outputs.scaleSets).toEqual([expect.objectContaining({ status: 'Succeeded' })]);

    // More polls of the same blob version start nothing.
    await env.local.host!.pollBlobs();
    await env.local.host!.pollBlobs();
    expect(await blobRuns('dropped-web')).toHaveLength(1);

    // A new version of the blob is a new bake.
    await drop('dropped-web', template);
    const second = await waitForRun(env.client, (r) => r.templateName === 'dropped-web' && r.trigger === 'blob' && r.id !== first.id);
    expect((await waitForEnd(env.client, second.id)).status).toBe('Succeeded');
    expect(await blobRuns('dropped-web')).toHaveLength(2);
  });

  it('an invalid template gives a Failed run record with every validation error, and the host carries on', async () => {
    await drop('broken-drop', { properties: { source: { type: 'PlatformImage' }, customize: [{ type: 'Shell' }] } });
    const run = await waitForRun(env.client, (r) => r.templateName === 'broken-drop');
    expect(run).toMatchObject({ status: 'Failed', trigger: 'blob', error: { code: 'InvalidTemplate' } });
    expect(run.templateErrors!.length).toBeGreaterThanOrEqual(3);
    expect(run.templateErrors!.map((e) => e.path)).toEqual(expect.arrayContaining(['properties.distribute']));

    // Not JSON at all: still a record, never a crash.
    await templates.getBlockBlobClient('not-json.json').upload('{oops', 5);
    const notJson = await waitForRun(env.client, (r) => r.templateName === 'not-json');
    expect(notJson.status).toBe('Failed');
    expect((await fetch(`${env.local.functionsUrl}/api/builds`, { headers: { 'x-functions-key': env.local.apiKey } })).status).toBe(200);
  });

  it('a redelivered blob version (host stopped before its receipt) finds its bake started and does not bake twice', async () => {
    const template = await exampleTemplate('ubuntu-web', env.local);
    delete (template.properties as Record<string, unknown>).schedule;
    const body = Buffer.from(JSON.stringify(template));
    const version = { eTag: '"0x8DE0REDELIVERED"', lastModified: new Date().toISOString() };
    // What the host hands the handler, twice, as after a crash between starting the bake and noting the receipt.
    const deliver = async (): Promise<void> => {
      const context = new InvocationContext({
        functionName: 'templateDropped',
        triggerMetadata: { name: 'redelivered-web.json', properties: version },
        options: { trigger: { type: 'blobTrigger', name: 'blob' }, extraInputs: [{ type: 'durableClient', name: 'client' }], extraOutputs: [] },
      });
      context.extraInputs.set('client', env.local.host!.engine.clientInput(env.local.functionsUrl));
      await handleTemplateDrop(body, df.getClient(context), context);
    };
    await deliver();
    await deliver();
    const runs = (await env.client.listRuns<RunRecord>({ limit: 100 })).items.filter((r) => r.templateName === 'redelivered-web');
    expect(runs).toHaveLength(1);
    expect((await waitForEnd(env.client, runs[0]!.id)).status).toBe('Succeeded');
  });
});
