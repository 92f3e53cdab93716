// The HTTP API reads every template shape: an ARM deployment template with a `parameters` object beside it (a
// missing parameter is a 400 naming it), and Packer JSON with its variables as `parameters`, warnings for what it did
// not carry over, and a 400 naming the error for what it cannot do (a local script).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalDefault, type LocalDefault } from '../../local/default.ts';

let local: LocalDefault;
let home: string;
let arm: unknown;
let tutorial: Record<string, unknown>;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'kiln-api-shapes-'));
  local = await startLocalDefault({ home, functionsPort: 0, armPort: 0, keyVaultPort: 0, blobPort: 0, profile: 'zero' });
  arm = JSON.parse(await readFile('test/fixtures/templates/arm/bad-missing-parameter.json', 'utf8'));
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

describe('ARM deployment templates through the API', () => {
  it('POST /builds without the required parameter is a 400 naming it; with parameters beside the template it is accepted', async () => {
    const refused = await call('POST', 'builds', { templateName: 'arm-web', template: arm });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { errors: unknown[] }).errors).toContainEqual(expect.objectContaining({ path: 'parameters.location', found: 'nothing' }));

    const parameters = { location: { value: 'eastus' }, osFlavor: { value: 'noble' } };
    const accepted = await call('POST', 'builds', { templateName: 'arm-web', template: arm, parameters });
    expect(accepted.status).toBe(202);
    expect(await accepted.json()).toMatchObject({ id: expect.stringMatching(/^arm-web-/), status: 'Pending' });
  });

  it('POST /builds says what it accepted but ignored (read-only fields from az image builder show)', async () => {
    const shown = JSON.parse(await readFile('examples/ubuntu-web.json', 'utf8')) as { properties: Record<string, unknown> } & Record<string, unknown>;
    shown.id = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.VirtualMachineImages/imageTemplates/ubuntu-web';
    shown.properties.provisioningState = 'Succeeded';
    const response = await call('POST', 'builds', { templateName: 'shown-web', template: shown });
    expect(response.status).toBe(202);
    expect(((await response.json()) as { warnings: Array<{ path: string }> }).warnings.map((w) => w.path)).toEqual(['id', 'properties.provisioningState']);
  });

  it('PUT /templates stores { template, parameters } as given (a blob drop of it reads the same shape)', async () => {
    const body = { template: arm, parameters: { location: { value: 'eastus' }, osFlavor: { value: 'jammy' } } };
    expect((await call('PUT', 'templates/arm-stored', body)).status).toBe(201);
    const stored = await fetch(`${local.functionsUrl}/api/templates/arm-stored`, { headers: { 'x-functions-key': local.apiKey } });
    expect(await stored.json()).toEqual(body);
    const bad = await call('PUT', 'templates/arm-bad', { template: arm, parameters: { location: { value: 'eastus' }, osFlavor: { value: 'focal' } } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: unknown[] }).errors).toEqual([{ path: 'template.parameters.osFlavor', message: 'parameter osFlavor must be one of "jammy" | "noble", found "focal"' }]);
  });
});

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
    expect(((await response.json()) as { errors: { message: string }[] }).errors[0]!.message).toMatch(/provisioner "shell" script "setup\.sh" is a local file.*kiln templates put FILE.*\(LocalFileUnavailable\)$/);
  });

  it('POST /builds takes Packer HCL2 as text, its variables from `parameters`, and names an HCL error with its line', async () => {
    const hcl = [
      'variable "image_name" { type = string }',
      'source "azure-arm" "web" {',
      '  location = "East US"',
      '  vm_size = "Standard_DS2_v2"',
      '  os_type = "Linux"',
      '  image_publisher = "Canonical"',
      '  image_offer = "ubuntu-24_04-lts"',
      '  image_sku = "server"',
      '  managed_image_name = var.image_name',
      '  managed_image_resource_group_name = "kiln-images"',
      '}',
      'build {',
      '  sources = ["source.azure-arm.web"]',
      '  provisioner "shell" { inline = ["echo hello > /etc/kiln-hcl"] }',
      '}',
    ].join('\n');
    const accepted = await call('POST', 'builds', { templateName: 'hcl-web', template: hcl, parameters: { image_name: { value: 'hcl-image' } } });
    expect(accepted.status).toBe(202);
    expect(((await accepted.json()) as { id: string }).id).toMatch(/^hcl-web-/);

    const badParameters = await call('POST', 'builds', { templateName: 'hcl-web', template: hcl, parameters: 'image_name=x' });
    expect(badParameters.status).toBe(400);
    expect(((await badParameters.json()) as { errors: { path: string }[] }).errors[0]!.path).toBe('parameters');

    const broken = await call('POST', 'builds', { templateName: 'hcl-web', template: `${hcl}\nbuild {` });
    expect(broken.status).toBe(400);
    expect(JSON.stringify(await broken.json())).toMatch(/hcl-web\.pkr\.hcl:\d+/);
  });
});
