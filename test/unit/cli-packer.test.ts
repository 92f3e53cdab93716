/** The CLI on Packer templates: `kiln bake` uploads local files before the bake, `kiln convert` and `kiln validate` say what each line became. */

import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runKiln } from '../e2e/triggers-support.ts';

const KEY = 'test-key';
const ID = 'linux-files-20261206T000000Z-0001';
let server: Server;
let endpoint: string;
const received: { method: string; url: string; body: Buffer }[] = [];

beforeAll(async () => {
  // A stand-in for the Kiln API: stores uploads, starts one bake, reports it finished.
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({ method: req.method!, url: req.url!, body });
      const send = (status: number, value: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (req.headers['x-functions-key'] !== KEY) return send(401, { status: 401 });
      if (req.method === 'PUT' && (req.url?.startsWith('/api/uploads/') || req.url?.startsWith('/api/templates/'))) return send(201, {});
      if (req.method === 'POST' && req.url === '/api/builds') return send(202, { id: ID });
      if (req.method === 'GET' && req.url === `/api/builds/${ID}`) {
        return send(200, { id: ID, templateName: 'linux-files', trigger: 'http', status: 'Succeeded', createdAt: '2026-12-06T00:00:00Z', steps: [], outputs: { regions: {}, scaleSets: [] } });
      }
      send(404, { status: 404 });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('kiln bake on a Packer template', () => {
  it('uploads each local file under its sha256 before starting the bake that names them; credentials go nowhere', async () => {
    process.env.ARM_CLIENT_ID = 'client-id-never-sent';
    const { code, stderr } = await runKiln(['bake', 'test/fixtures/packer/linux-files.pkr.hcl', '--json', '--endpoint', endpoint, '--key', KEY]);
    delete process.env.ARM_CLIENT_ID;
    expect(code, stderr).toBe(0);
    const uploads = received.filter((r) => r.method === 'PUT');
    const post = received.findIndex((r) => r.method === 'POST');
    expect(uploads).toHaveLength(5);
    expect(received.indexOf(uploads.at(-1)!)).toBeLessThan(post);
    for (const upload of uploads) expect(upload.url).toBe(`/api/uploads/${createHash('sha256').update(upload.body).digest('hex')}`);
    const template = (JSON.parse(received[post]!.body.toString()) as { template: { properties: { customize: { sourceUri?: string }[] } } }).template;
    const named = template.properties.customize.flatMap((c) => (c.sourceUri ? [c.sourceUri.replace('kiln-upload://sha256/', '/api/uploads/')] : []));
    expect(new Set(named)).toEqual(new Set(uploads.map((u) => u.url)));
    expect(received.map((r) => r.body.toString()).join('\n')).not.toContain('client-id-never-sent');
    expect(stderr).toMatch(/warning test\/fixtures\/packer\/linux-files\.pkr\.hcl:\d+: client_id, client_secret: Packer credentials are not used/);
    // Its env("ARM_CLIENT_ID") default feeds a credential, which is never read: nothing of the shell is sent.
    expect(stderr).not.toContain('environment variable');
  });
});

describe('kiln bake and validate on a Packer template whose variable reads env()', () => {
  it('says which variable took its value from which environment variable, and bakes with that value', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiln-env-notice-'));
    const file = join(dir, 'team.pkr.hcl');
    await writeFile(file, `variable "team" {
  default = env("KILN_TEST_TEAM")
}
source "azure-arm" "x" {
  image_publisher = "Canonical"
  image_offer     = "ubuntu-24_04-lts"
  image_sku       = "server"
  location        = "westeurope"
  managed_image_resource_group_name = "kiln-images"
  managed_image_name = "team-\${var.team}"
}
build {
  sources = ["source.azure-arm.x"]
}
`);
    process.env.KILN_TEST_TEAM = 'blue';
    try {
      const notice = `${file}:1: variable "team" took its value from the environment variable KILN_TEST_TEAM; it is stored with the template and in run records`;
      const before = received.length;
      const baked = await runKiln(['bake', file, '--json', '--subscription', '00000000-0000-0000-0000-000000000000', '--endpoint', endpoint, '--key', KEY]);
      expect(baked.code, baked.stderr).toBe(0);
      expect(baked.stderr).toContain(`warning ${notice}`);
      const post = received.slice(before).find((r) => r.method === 'POST')!;
      expect(post.body.toString()).toContain('team-blue');
      const validated = await runKiln(['validate', file]);
      expect(validated.code, validated.stderr).toBe(0);
      expect(validated.stdout).toContain(`  environment ${file}:1 variable "team": took its value from the environment variable KILN_TEST_TEAM;`);
    } finally {
      delete process.env.KILN_TEST_TEAM;
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('kiln templates put on a Packer template', () => {
  it('stores what kiln bake would send: the same -var-file and -var, the name from the template', async () => {
    const before = received.length;
    const { code, stdout, stderr } = await runKiln([
      'templates', 'put', 'test/fixtures/packer/ubuntu-dir', '-var-file', 'test/fixtures/packer/prod.pkrvars.hcl', '-var', 'environment=qa',
      '--subscription', '00000000-0000-0000-0000-000000000000', '--endpoint', endpoint, '--key', KEY,
    ]);
    expect(code, stderr).toBe(0);
    const put = received.slice(before).find((r) => r.url.startsWith('/api/templates/'))!;
    expect(put.url).toBe('/api/templates/ubuntu-dir');
    const stored = JSON.parse(put.body.toString()) as { tags: Record<string, string>; properties: { distribute: { galleryImageId: string }[] } };
    expect(stored.tags).toEqual({ environment: 'qa', image: 'ubuntu-app' });
    expect(stored.properties.distribute[0]!.galleryImageId).toMatch(/\/versions\/2\.0\.0$/);
    expect(stdout).toContain('stored template ubuntu-dir');
  });

  it('refuses a template with errors before sending anything', async () => {
    const before = received.length;
    const { code, stderr } = await runKiln(['templates', 'put', 'test/fixtures/packer/bad/ansible.json', '--subscription', '00000000-0000-0000-0000-000000000000', '--endpoint', endpoint, '--key', KEY]);
    expect(code).toBe(1);
    expect(stderr).toContain('(UnsupportedProvisioner)');
    expect(received.length).toBe(before);
  });
});

describe('kiln convert and kiln validate on Packer templates', () => {
  it('convert prints the Kiln template; Packer\'s -var and -var-file spellings work', async () => {
    const { code, stdout } = await runKiln(['convert', 'test/fixtures/packer/ubuntu-dir', '-var-file', 'test/fixtures/packer/prod.pkrvars.hcl', '-var', 'environment=qa', '--quiet']);
    expect(code).toBe(0);
    const template = JSON.parse(stdout) as { tags: Record<string, string>; properties: { distribute: { galleryImageId: string }[] } };
    expect(template.tags).toEqual({ environment: 'qa', image: 'ubuntu-app' });
    expect(template.properties.distribute[0]!.galleryImageId).toMatch(/\/versions\/2\.0\.0$/);
  });

  it('convert names the error and where it is; exit 1', async () => {
    const { code, stdout, stderr } = await runKiln(['convert', 'test/fixtures/packer/bad/ansible.json']);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('test/fixtures/packer/bad/ansible.json:13: provisioner "ansible" cannot run in Kiln');
    expect(stderr).toContain('(UnsupportedProvisioner)');
  });

  it('validate lists what each line became', async () => {
    const { code, stdout } = await runKiln(['validate', 'test/fixtures/packer/linux-tutorial.json']);
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    expect(lines[0]).toMatch(/^ok test\/fixtures\/packer\/linux-tutorial\.json: linux-tutorial: PlatformImage Canonical/);
    expect(lines).toContain('  dropped test/fixtures/packer/linux-tutorial.json:35 provisioner "shell" inline: 1 line(s) that deprovision the VM: Kiln generalizes as its own step after the last customizer');
    expect(lines).toContain('  ignored test/fixtures/packer/linux-tutorial.json:20 os_type: Kiln reads the OS type from the source image');
    expect(lines).toContain('  mapped  test/fixtures/packer/linux-tutorial.json:18 managed_image_name: distribute ManagedImage kiln-images/packer-tutorial');
  });
});
