// Packer HCL2 by blob drop and by PUT /templates, on the local default: a dropped `.pkr.hcl` bakes with the
// `.pkrvars.hcl` beside it; a drop Kiln cannot read leaves a Failed run record naming why; PUT stores HCL2 text with
// its values as the same files, GET gives them back, and POST /builds by name (what a scheduled rebuild does) reads them.
import { readFile } from 'node:fs/promises';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FINAL_RUN_STATUSES, type RunRecord } from '../../src/runs/record.ts';
import { describeRun, startTestDefault, waitForEnd, waitForRun, type TestDefault } from '../e2e/triggers-support.ts';

let env: TestDefault;
let container: ContainerClient;
let hcl: string;

beforeAll(async () => {
  env = await startTestDefault();
  container = BlobServiceClient.fromConnectionString(env.local.blobConnectionString).getContainerClient('templates');
  await container.createIfNotExists();
  hcl = await readFile('test/fixtures/packer/drop/web-drop.pkr.hcl', 'utf8');
});

afterAll(async () => {
  // Stores and drops start bakes; each ends (canceled) before the local default closes under it.
  const open = (await env.client.listRuns<RunRecord>({ limit: 100 })).items.filter((r) => !FINAL_RUN_STATUSES.has(r.status));
  await Promise.all(open.map((r) => env.client.cancel(r.id).catch(() => undefined)));
  await Promise.all(open.map((r) => waitForEnd(env.client, r.id)));
  await env?.close();
});

async function drop(blobName: string, body: string | Buffer): Promise<void> {
  await container.getBlockBlobClient(blobName).upload(body, Buffer.byteLength(body));
  await env.local.host!.pollBlobs();
}

function call(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${env.local.functionsUrl}/api/${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'x-functions-key': env.local.apiKey },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

function refusedRun(name: string): Promise<RunRecord> {
  return waitForRun(env.client, (r) => r.templateName === name && r.trigger === 'blob' && r.status === 'Failed');
}

/** The shell lines a run's spec carries: where the variables' values show. */
function inlineOf(run: RunRecord): string {
  return JSON.stringify(run.spec?.customizers ?? []);
}

describe('blob drop of Packer HCL2', () => {
  it('a dropped .pkr.hcl bakes with the .pkrvars.hcl dropped beside it first', async () => {
    // The values file alone starts nothing.
    await drop('web-drop.pkrvars.hcl', await readFile('test/fixtures/packer/drop/web-drop.pkrvars.hcl'));
    expect((await env.client.listRuns<RunRecord>({ limit: 100 })).items.filter((r) => r.templateName === 'web-drop')).toEqual([]);

    await drop('web-drop.pkr.hcl', hcl);
    const run = await waitForRun(env.client, (r) => r.templateName === 'web-drop' && r.trigger === 'blob');
    expect(inlineOf(run)).toContain('echo from-the-pkrvars-file > /etc/kiln-drop');
    const done = await waitForEnd(env.client, run.id);
    expect(done.status, describeRun(done)).toBe('Succeeded');
    expect(JSON.stringify(done.outputs)).toContain('/resourceGroups/kiln-images/providers/Microsoft.Compute/images/dropped-hcl-image');
  });

  it('a drop Kiln cannot read is a Failed run record saying why, and the host carries on', async () => {
    await drop('broken-hcl.pkr.hcl', `${hcl}\nbuild {`);
    const broken = await refusedRun('broken-hcl');
    expect(broken.error).toMatchObject({ code: 'InvalidTemplate' });
    expect(broken.templateErrors![0]!.path).toMatch(/^broken-hcl\.pkr\.hcl:\d+/);

    await drop('scripted.pkr.hcl', await readFile('test/fixtures/packer/bad/local-script.pkr.hcl'));
    const scripted = await refusedRun('scripted');
    expect(scripted.templateErrors![0]!.message).toMatch(/provisioner "shell" script "scripts\/setup\.sh" is a local file.*kiln templates put FILE.*\(LocalFileUnavailable\)$/);

    await drop('web.hcl', hcl);
    const misnamed = await refusedRun('web.hcl');
    expect(misnamed.templateErrors![0]!.message).toContain('NAME.json or NAME.pkr.hcl');

    await drop('latin1.pkr.hcl', Buffer.from([0x23, 0x20, 0xe9, 0x74, 0xe9, 0x0a]));
    expect((await refusedRun('latin1')).templateErrors![0]!.message).toBe('latin1.pkr.hcl is not UTF-8 text');

    // The values file of a JSON template must be JSON values, not .pkrvars.hcl.
    await drop('json-with-pkrvars.pkrvars.hcl', 'x = 1');
    await drop('json-with-pkrvars.json', await readFile('test/fixtures/packer/linux-tutorial.json'));
    expect((await refusedRun('json-with-pkrvars')).templateErrors![0]!.path).toBe('json-with-pkrvars.pkrvars.hcl');

    expect((await call('GET', 'builds')).status).toBe(200);
  });
});

describe('PUT /templates with HCL2 text', () => {
  it('stores the text with its parameters and variables file, gives them back, and bakes them by name', async () => {
    const body = { template: hcl, parameters: { image_name: 'put-hcl-image' }, variables: 'greeting = "from-put"\n' };
    const put = await call('PUT', 'templates/put-hcl', body);
    expect(put.status, await put.clone().text()).toBe(201);
    expect(await (await call('GET', 'templates/put-hcl')).json()).toEqual(body);
    expect(((await (await call('GET', 'templates')).json()) as { items: { name: string }[] }).items).toContainEqual({ name: 'put-hcl' });

    // Storing is a drop: the blob trigger bakes the stored files.
    await env.local.host!.pollBlobs();
    const dropped = await waitForRun(env.client, (r) => r.templateName === 'put-hcl' && r.trigger === 'blob');
    expect(inlineOf(dropped)).toContain('echo from-put > /etc/kiln-drop');
    expect(JSON.stringify(dropped.spec?.distributions)).toContain('put-hcl-image');

    // By name, as a scheduled rebuild reads it; the request's parameters win over the stored ones.
    const byName = await call('POST', 'builds', { templateName: 'put-hcl', parameters: { image_name: 'by-name-image' } });
    expect(byName.status).toBe(202);
    const run = await env.client.getRun<RunRecord>(((await byName.json()) as { id: string }).id);
    expect(JSON.stringify(run.spec?.distributions)).toContain('by-name-image');
    expect(inlineOf(run)).toContain('from-put');
  });

  it('refuses what it cannot bake with a 400 naming it, and stores nothing', async () => {
    const missing = await call('PUT', 'templates/put-missing', { template: hcl });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(await missing.json())).toMatch(/MissingVariable/);
    const extra = await call('PUT', 'templates/put-extra', { template: hcl, parameters: { image_name: 'x' }, vars: {} });
    expect(((await extra.json()) as { errors: { path: string }[] }).errors.map((e) => e.path)).toEqual(['vars']);
    const reserved = await call('PUT', 'templates/web.parameters', { template: hcl });
    expect(reserved.status).toBe(400);
    expect((await call('GET', 'templates/put-missing')).status).toBe(404);
  });

  it('a JSON template put over an HCL2 one replaces it and the values beside it', async () => {
    await call('PUT', 'templates/put-swap', { template: hcl, parameters: { image_name: 'swap' } });
    const tutorial = JSON.parse(await readFile('test/fixtures/packer/linux-tutorial.json', 'utf8')) as unknown;
    expect((await call('PUT', 'templates/put-swap', tutorial)).status).toBe(200);
    expect(await (await call('GET', 'templates/put-swap')).json()).toEqual(tutorial);
    const names: string[] = [];
    for await (const item of container.listBlobsFlat({ prefix: 'put-swap.' })) names.push(item.name);
    expect(names).toEqual(['put-swap.json']);
  });
});
