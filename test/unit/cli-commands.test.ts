import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/runs/record.ts';
import { runKiln } from '../e2e/triggers-support.ts';

const KEY = 'test-key';
const ID = 'ubuntu-web-20261125T131900Z-3f2a';
const scaleSetId = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/web-prod/providers/Microsoft.Compute/virtualMachineScaleSets/web-vmss';
const imageVersionId = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images/ubuntu-web/versions/1.0.1';

const running = {
  id: ID, templateName: 'ubuntu-web', trigger: 'http', status: 'Running', createdAt: '2026-11-25T13:19:00Z', steps: [],
  outputs: { regions: {}, scaleSets: [] },
  progress: {
    runId: ID, status: 'Running', step: 'replicate',
    steps: [{ name: 'plan', status: 'Succeeded' }, { name: 'replicate', status: 'Running' }],
    regions: { eastus: { state: 'Replicating', percent: 50 } },
    scaleSets: [],
  },
};

function finished(status: 'Succeeded' | 'Failed'): RunRecord {
  return {
    id: ID, templateName: 'ubuntu-web', trigger: 'http', status, createdAt: '2026-11-25T13:19:00Z', endedAt: '2026-11-25T13:21:00Z',
    steps: [{ name: 'plan', status: 'Succeeded', attempts: 1 }, { name: 'replicate', status: status === 'Succeeded' ? 'Succeeded' : 'Failed', attempts: 1 }],
    outputs: status === 'Succeeded'
      ? { version: '1.0.1', imageVersionId, regions: { eastus: 'Completed' }, scaleSets: [{ id: scaleSetId, status: 'Succeeded', updated: 3, total: 3 }] }
      : { regions: { eastus: 'Failed' }, scaleSets: [] },
    ...(status === 'Failed' ? { error: { step: 'replicate', code: 'ReplicationFailed', message: 'eastus failed' } } : {}),
  };
}

/** A stand-in for the Kiln API: answers POST /builds and then the run, running once and then finished. */
let server: Server;
let endpoint: string;
let outcome: 'Succeeded' | 'Failed';
let gets: number;
let failingGets: number;
let received: { method: string; url: string; key: string | undefined; body: string }[];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, key: req.headers['x-functions-key'] as string | undefined, body });
      const send = (status: number, value: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(value));
      };
      if (req.headers['x-functions-key'] !== KEY) return send(401, { status: 401, detail: 'no key' });
      if (req.method === 'POST' && req.url === '/api/builds') return send(202, { id: ID }, { location: `${endpoint}/api/builds/${ID}` });
      if (req.method === 'GET' && req.url === `/api/builds/${ID}`) {
        if (failingGets > 0 && failingGets--) return send(500, { status: 500, detail: 'the request failed inside Kiln' });
        return send(200, gets++ === 0 ? running : finished(outcome));
      }
      if (req.method === 'GET' && req.url === `/api/builds/${ID}/logs`) return send(200, { id: ID, logs: [{ step: 'customize', text: 'hello\n' }] });
      if (req.method === 'POST' && req.url === `/api/builds/${ID}/approve`) return send(202, { id: ID });
      if (req.method === 'POST' && req.url === `/api/builds/${ID}/cancel`) return send(202, { id: ID });
      if (req.method === 'POST' && req.url === `/api/builds/${ID}/retry`) return send(202, { id: `${ID}-retry` });
      if (req.method === 'PUT' && req.url === '/api/templates/web') return send(201, { name: 'web' });
      if (req.method === 'GET' && req.url === '/api/templates/web') return send(200, { properties: { source: {} } });
      if (req.method === 'DELETE' && req.url === '/api/templates/web') return res.writeHead(204).end();
      if (req.method === 'GET' && req.url === '/api/templates') return send(200, { items: [{ name: 'a' }], continuationToken: 'a' });
      if (req.method === 'GET' && req.url === '/api/templates?continuationToken=a') return send(200, { items: [{ name: 'b' }] });
      send(404, { type: 'urn:kiln:problem:not-found', title: 'Not Found', status: 404, detail: `run "x" does not exist` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  outcome = 'Succeeded';
  gets = 0;
  failingGets = 0;
  received = [];
});


const api = (): string[] => ['--endpoint', endpoint, '--key', KEY];

describe('kiln bake --endpoint', () => {
  it('prints plain progress lines, the image version and the rollout result; exit 0 on success', async () => {
    const { code, stdout, stderr } = await runKiln(['bake', 'examples/ubuntu-web.json', ...api()]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout.split('\n')).toEqual([
      `bake ${ID} started (${endpoint}/api/builds/${ID})`,
      `run ${ID}: Running`,
      'step plan: Succeeded',
      'step replicate: Running',
      'replicate eastus: Replicating 50%',
      'step replicate: Succeeded',
      'replicate eastus: Completed 100%',
      'rollout web-vmss: Succeeded, 3/3 updated',
      `run ${ID}: Succeeded`,
      `${ID}: Succeeded`,
      `image version 1.0.1 (${imageVersionId})`,
      'region eastus: Completed',
      'rollout web-vmss: Succeeded (3/3 instances updated)',
      '',
    ]);
    const post = received.find((r) => r.method === 'POST')!;
    expect(post.key).toBe(KEY);
    expect(JSON.parse(post.body)).toMatchObject({ templateName: 'ubuntu-web', template: { name: 'ubuntu-web' } });
  });

  it('--json prints only the final run record on stdout', async () => {
    const { code, stdout } = await runKiln(['bake', 'examples/ubuntu-web.json', '--json', ...api()]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(finished('Succeeded'));
  });

  it('rides out a few failed looks (HTTP 500) while the bake runs', async () => {
    failingGets = 2;
    const { code, stdout } = await runKiln(['bake', 'examples/ubuntu-web.json', '--json', ...api()]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(finished('Succeeded'));
  });

  it('exits 1 when the bake fails, and says why', async () => {
    outcome = 'Failed';
    const { code, stdout } = await runKiln(['bake', 'examples/ubuntu-web.json', ...api()]);
    expect(code).toBe(1);
    expect(stdout).toContain(`${ID}: Failed`);
    expect(stdout).toContain('error in replicate: ReplicationFailed: eastus failed');
  });

  it('refuses an invalid template before calling the API, listing every error', async () => {
    const { code, stderr } = await runKiln(['bake', 'test/unit/cli-commands.test.ts', ...api()]);
    expect(code).toBe(1);
    expect(stderr).toContain('$: not valid JSON');
    expect(received).toEqual([]);
  });
});

describe('kiln status, logs, approve', () => {
  it('status prints the summary, --json the record; an unknown id exits 1 with the API detail', async () => {
    gets = 1;
    const plain = await runKiln(['status', ID, ...api()]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('image version 1.0.1');
    gets = 1;
    const json = await runKiln(['status', ID, '--json', ...api()]);
    expect(JSON.parse(json.stdout)).toEqual(finished('Succeeded'));
    const unknown = await runKiln(['status', 'nope', ...api()]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('kiln: run "x" does not exist (HTTP 404)\n');
  });

  it('logs prints each step log under its name; approve sends who approved', async () => {
    expect((await runKiln(['logs', ID, ...api()])).stdout).toBe('== customize ==\nhello\n');
    expect((await runKiln(['approve', ID, '--by', 'ana', ...api()])).code).toBe(0);
    expect(JSON.parse(received.at(-1)!.body)).toEqual({ by: 'ana' });
  });

  it('a wrong key is reported, not thrown', async () => {
    const { code, stderr } = await runKiln(['status', ID, '--endpoint', endpoint, '--key', 'wrong']);
    expect(code).toBe(1);
    expect(stderr).toContain('HTTP 401');
  });
});

describe('kiln cancel, retry, templates', () => {
  it('cancel and retry say what they did', async () => {
    expect((await runKiln(['cancel', ID, ...api()])).stdout).toBe(`cancel requested for ${ID}\n`);
    expect((await runKiln(['retry', ID, ...api()])).stdout).toBe(`${ID}-retry\n`);
  });

  it('templates put sends the file under --name; list follows every page', async () => {
    const put = await runKiln(['templates', 'put', 'examples/ubuntu-web.json', '--name', 'web', ...api()]);
    expect(put.stdout).toBe('stored template web\n');
    const sent = received.find((r) => r.method === 'PUT')!;
    expect(JSON.parse(sent.body)).toMatchObject({ name: 'ubuntu-web', properties: { source: { type: 'PlatformImage' } } });
    expect((await runKiln(['templates', 'list', ...api()])).stdout).toBe('a\nb\n');
    expect(JSON.parse((await runKiln(['templates', 'show', 'web', ...api()])).stdout)).toEqual({ properties: { source: {} } });
    expect(await runKiln(['templates', 'delete', 'web', ...api()])).toMatchObject({ code: 0, stdout: 'deleted template web\n' });
    expect(await runKiln(['templates', 'delete', 'gone', ...api()])).toMatchObject({ code: 1 });
  });

  it('templates put reads an ARM template as kiln bake does: --parameters and --param applied before it is stored', async () => {
    const put = await runKiln([
      'templates', 'put', 'test/fixtures/templates/arm/sig-deployment.json', '--name', 'web',
      '--parameters', 'test/fixtures/templates/arm/sig-deployment.parameters.json', '--param', 'environment=dev',
      '--location', 'eastus', '--resource-group', 'rg-b', '--subscription', '11111111-2222-3333-4444-555555555555', ...api(),
    ]);
    expect(put.code, put.stderr).toBe(0);
    const sent = JSON.parse(received.find((r) => r.method === 'PUT')!.body) as Record<string, unknown>;
    // The file's values (name, team tag) and --param over the file (env).
    expect(sent).toMatchObject({ type: 'Microsoft.VirtualMachineImages/imageTemplates', name: 'ubuntu-web-arm', tags: { env: 'dev', team: 'web' } });
    expect(JSON.stringify(sent)).not.toContain('[parameters(');
  });
});
