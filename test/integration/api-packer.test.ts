// The HTTP API reads Packer JSON as any other template shape: POST /builds with variables beside it as `parameters`,
// warnings for what it did not carry over, and a 400 naming the error for what it cannot do (a local script).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalDefault, type LocalDefault } from '../../local/default.ts';

let local: LocalDefault;
let home: string;
let tutorial: Record<string, unknown>;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'kiln-api-packer-'));
  local = await startLocalDefault({ home, functionsPort: 0, armPort: 0, keyVaultPort: 0, blobPort: 0, profile: 'zero' });
  tutorial = JSON.parse(await readFile('test/fixtures/packer/linux-tutorial.json', 'utf8')) as Record<string, unknown>;
});

afterAll(async () => {
  await local?.close();
  await rm(home, { recursive: true, force: true });
});

function call(method: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${local.functionsUrl}/api/${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'x-functions-key': local.apiKey },
    body: JSON.stringify(body),
  });
}

describe('Packer templates through the API', () => {
  it('POST /builds takes Packer JSON, with its variables as parameters, and warns about what it dropped or ignored', async () => {
    const needsName = { ...tutorial, variables: { ...(tutorial.variables as object), image_name: null } };
    const refused = await call('POST', 'builds', { templateName: 'packer-web', template: needsName });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { errors: { message: string }[] }).errors[0]!.message).toMatch(/--var image_name=VALUE.*\(MissingVariable\)$/);

    const accepted = await call('POST', 'builds', { templateName: 'packer-web', template: { template: needsName, parameters: { image_name: { value: 'api-image' } } } });
    expect(accepted.status).toBe(202);
    const body = (await accepted.json()) as { id: string; warnings: { path: string; message: string }[] };
    expect(body.id).toMatch(/^packer-web-/);
    expect(body.warnings).toContainEqual({ path: expect.stringMatching(/^packer-web\.json:\d+$/), message: expect.stringMatching(/^client_id, client_secret, tenant_id: dropped, .*managed identity/) });
    expect(JSON.stringify(body)).not.toContain('ARM_CLIENT_SECRET');
  });

  it('PUT /templates refuses a Packer template that names a local script: only the CLI can upload it', async () => {
    const scripted = { ...tutorial, provisioners: [{ type: 'shell', script: 'setup.sh' }] };
    const response = await call('PUT', 'templates/packer-scripted', scripted);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { errors: { message: string }[] }).errors[0]!.message).toMatch(/kiln CLI, which uploads local files \(LocalFileUnavailable\)$/);
  });
});
