/** Packer templates (JSON, HCL2 file, HCL2 directory with variable files) converted to Kiln templates, and refused with named, located errors. */

import { describe, expect, it } from 'vitest';
import { parseTemplate } from '../../src/template/index.ts';
import { convertPacker, localFiles, readPackerFiles, type PackerConversion } from '../../src/template/packer/index.ts';
import { packerFormat } from '../../src/template/packer/format.ts';

const FIXTURES = 'test/fixtures/packer';
const SUB = '00000000-0000-0000-0000-000000000000';
const NOW = new Date('2026-03-04T05:06:07Z');

async function convertPath(path: string, options: { varFiles?: string[]; vars?: Record<string, string>; env?: Record<string, string> } = {}): Promise<PackerConversion> {
  const { input, templateDir, name } = await readPackerFiles(path, options.varFiles ?? []);
  return convertPacker({ ...input, vars: options.vars ?? {} }, { subscriptionId: SUB, name, localFiles: localFiles(templateDir), now: NOW, env: options.env ?? {} });
}

function convertText(path: string, text: string, options: { vars?: Record<string, string>; env?: Record<string, string> } = {}): Promise<PackerConversion> {
  return convertPacker({ files: [{ path, text }], vars: options.vars ?? {} }, { subscriptionId: SUB, now: NOW, env: options.env ?? {} });
}

function ok(result: PackerConversion): Extract<PackerConversion, { ok: true }> {
  if (!result.ok) throw new Error(`expected a conversion, got ${JSON.stringify(result.errors)}`);
  return result;
}

function props(result: Extract<PackerConversion, { ok: true }>): Record<string, any> {
  return result.template.properties as Record<string, any>;
}

const minimalJson = (provisioners: unknown[], builder: Record<string, unknown> = {}) => JSON.stringify({
  builders: [{
    type: 'azure-arm', image_publisher: 'Canonical', image_offer: 'ubuntu-24_04-lts', image_sku: 'server',
    managed_image_name: 'img', managed_image_resource_group_name: 'kiln-images', location: 'West Europe', ...builder,
  }],
  provisioners,
}, null, 2);

describe('Packer JSON', () => {
  it('converts the tutorial shape: marketplace source, managed image, tags, shell inline without its deprovision line', async () => {
    const result = ok(await convertPath(`${FIXTURES}/linux-tutorial.json`));
    expect(result.template).toMatchObject({ type: 'Microsoft.VirtualMachineImages/imageTemplates', name: 'linux-tutorial', location: 'eastus', tags: { dept: 'Engineering', task: 'Image deployment' } });
    expect(props(result)).toEqual({
      source: { type: 'PlatformImage', publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
      distribute: [{ type: 'ManagedImage', imageId: `/subscriptions/${SUB}/resourceGroups/kiln-images/providers/Microsoft.Compute/images/packer-tutorial`, location: 'eastus', runOutputName: 'packer-tutorial' }],
      vmProfile: { vmSize: 'Standard_DS2_v2' },
      customize: [{
        type: 'Shell', name: 'shell-1',
        inline: ['mkdir -p /var/www/html', "echo 'Hello from a Packer template baked by Kiln' > /var/www/html/index.html", "echo 'PACKER_IMAGE=packer-tutorial' > /etc/packer-release"],
      }],
    });
    expect(parseTemplate(result.template).ok).toBe(true);
    expect(result.notes).toContainEqual({ kind: 'dropped', at: `${FIXTURES}/linux-tutorial.json:35`, what: 'provisioner "shell" inline', message: expect.stringMatching(/1 line\(s\) that deprovision the VM: Kiln generalizes/) });
    expect(result.notes).toContainEqual(expect.objectContaining({ kind: 'dropped', what: 'client_id, client_secret, tenant_id', message: expect.stringMatching(/managed identity/) }));
    expect(result.uploads).toEqual([]);
  });

  it('converts the Windows template: gallery destination with replication, powershell env/elevation/exit codes, restart, update, sysprep lines dropped', async () => {
    const result = ok(await convertPath(`${FIXTURES}/windows.json`));
    const p = props(result);
    expect(p.distribute).toEqual([{
      type: 'SharedImage',
      galleryImageId: `/subscriptions/${SUB}/resourceGroups/kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images/windows-base/versions/1.2.0`,
      runOutputName: 'windows-base',
      targetRegions: [{ name: 'eastus', replicaCount: 1, storageAccountType: 'Standard_LRS' }, { name: 'westeurope', replicaCount: 1, storageAccountType: 'Standard_LRS' }],
    }]);
    expect(p.stagingResourceGroup).toBe(`/subscriptions/${SUB}/resourceGroups/kiln-images`);
    expect(p.vmProfile).toEqual({ vmSize: 'Standard_D4ds_v5', osDiskSizeGB: 128 });
    expect(p.customize.map((c: { type: string }) => c.type)).toEqual(['PowerShell', 'WindowsRestart', 'WindowsUpdate', 'PowerShell']);
    expect(p.customize[0]).toMatchObject({ runElevated: true, runAsSystem: true, validExitCodes: [0, 3010], inline: ["$env:RELEASE = 'windows-base'", "$env:OWNER = 'platform'", expect.any(String), expect.any(String)] });
    expect(p.customize[1]).toEqual({ type: 'WindowsRestart', name: 'windows-restart-2', restartTimeout: '10m' });
    expect(p.customize[2]).toMatchObject({ type: 'WindowsUpdate', searchCriteria: 'IsInstalled=0', updateLimit: 25 });
    expect(p.customize[3].inline).toEqual(["while ((Get-Service RdAgent).Status -ne 'Running') { Start-Sleep -s 5 }"]);
    expect(result.notes.filter((n) => n.kind === 'ignored' && /^winrm_/.test(n.what)).length).toBe(4);
    expect(result.notes).toContainEqual(expect.objectContaining({ kind: 'dropped', what: 'provisioner "powershell" elevated_password' }));
    expect(result.notes).toContainEqual(expect.objectContaining({ kind: 'ignored', what: 'post-processor "manifest"' }));
    expect(parseTemplate(result.template).ok).toBe(true);
  });

  it('resolves {{user}} (a --var wins), {{env}} in variables, {{timestamp}}, {{isotime}} and {{uuid}}; leaves {{ .Path }} to Kiln', async () => {
    const text = JSON.stringify({
      variables: { prefix: '{{env `IMAGE_PREFIX`}}', suffix: 'dev' },
      builders: [{ type: 'azure-arm', image_publisher: 'Canonical', image_offer: 'o', image_sku: 's', location: 'eastus', managed_image_resource_group_name: 'rg', managed_image_name: '{{user `prefix`}}-{{user `suffix`}}-{{timestamp}}' }],
      provisioners: [{ type: 'shell', execute_command: '{{ .Vars }} sudo -E sh {{ .Path }}', inline: ['echo {{isotime "2006-01-02"}} {{uuid}}'] }],
    });
    const result = ok(await convertText('t.json', text, { vars: { suffix: 'prod' }, env: { IMAGE_PREFIX: 'web' } }));
    expect(props(result).distribute[0].runOutputName).toBe(`web-prod-${NOW.getTime() / 1000}`);
    expect(props(result).customize[0].inline[0]).toMatch(/^echo 2026-03-04 [0-9a-f-]{36}$/);
  });

  it('never reads, keeps or shows credentials, even when their variables are set', async () => {
    const text = JSON.stringify({
      variables: { secret: '{{env `ARM_CLIENT_SECRET`}}' },
      builders: [{ type: 'azure-arm', client_id: 'app-id-123', client_secret: '{{user `secret`}}', image_publisher: 'p', image_offer: 'o', image_sku: 's', location: 'eastus', managed_image_resource_group_name: 'rg', managed_image_name: 'n' }],
    });
    const result = ok(await convertText('t.json', text, { env: { ARM_CLIENT_SECRET: 'hunter2-super-secret' } }));
    const everything = JSON.stringify(result);
    expect(everything).not.toContain('hunter2-super-secret');
    expect(everything).not.toContain('app-id-123');
    expect(result.notes.filter((n) => /managed identity/.test(n.message))).toHaveLength(1);

    // A sensitive variable outside the credential fields would be stored in the template: refused by name.
    const leaking = JSON.stringify({ ...JSON.parse(text), 'sensitive-variables': ['secret'], provisioners: [{ type: 'shell', inline: ['echo {{user `secret`}}'] }] });
    const refused = await convertText('t.json', leaking, { env: { ARM_CLIENT_SECRET: 'hunter2-super-secret' } });
    expect(refused.ok ? 'ok' : refused.errors[0]!.code).toBe('SensitiveVariable');
    expect(JSON.stringify(refused)).not.toContain('hunter2-super-secret');
  });
});

describe('Packer HCL2', () => {
  it('converts one file in provisioner order, with variables, locals, functions and uploads for the script and files', async () => {
    const result = ok(await convertPath(`${FIXTURES}/linux-files.pkr.hcl`));
    expect(result.template).toMatchObject({ name: 'linux-files', location: 'eastus', tags: { owner: 'PLATFORM', app: 'Site' } });
    const customize = props(result).customize as Record<string, any>[];
    expect(customize.map((c) => `${c.type}:${c.destination ?? c.name}`)).toEqual([
      `File:/tmp/kiln-packer/${result.uploads[0]!.sha256.slice(0, 12)}-setup.sh`, 'Shell:shell-1',
      'File:/etc/motd', 'File:/var/www/site/index.html', 'File:/var/www/site/style.css', 'File:/etc/kiln-owner', 'Shell:shell-5',
    ]);
    expect(customize[1]!.inline).toEqual(["export APP_NAME='Site'", expect.stringMatching(/^chmod \+x '\/tmp\/kiln-packer\//), expect.stringMatching(/^bash '\/tmp\/kiln-packer\//)]);
    expect(customize[6]!.inline).toEqual(['test -s /etc/motd', 'echo "image=site-files" >> /opt/site/release.env']);
    for (const file of customize.filter((c) => c.type === 'File')) {
      expect(file.sourceUri).toBe(`kiln-upload://sha256/${file.sha256Checksum}`);
      expect(result.uploads.map((u) => u.sha256)).toContain(file.sha256Checksum);
    }
    expect(result.uploads.find((u) => u.from.startsWith('content of'))?.bytes.toString()).toBe('owner=PLATFORM\n');
    expect(parseTemplate(result.template).ok).toBe(true);
    expect(result.notes).toContainEqual(expect.objectContaining({ kind: 'ignored', at: `${FIXTURES}/linux-files.pkr.hcl:58`, what: 'ssh_username' }));
  });

  it('reads a directory: .pkr.hcl files, *.auto.pkrvars.hcl, then --var-file, then --var', async () => {
    const plain = ok(await convertPath(`${FIXTURES}/ubuntu-dir`));
    expect(plain.template.name).toBe('ubuntu-dir');
    expect(props(plain).distribute[0]).toMatchObject({ galleryImageId: expect.stringMatching(/images\/ubuntu-app\/versions\/1\.0\.0$/), targetRegions: [{ name: 'eastus', storageAccountType: 'Standard_ZRS' }] });
    expect(plain.template.tags).toEqual({ environment: 'dev', image: 'ubuntu-app' });

    const prod = ok(await convertPath(`${FIXTURES}/ubuntu-dir`, { varFiles: [`${FIXTURES}/prod.pkrvars.hcl`], vars: { environment: 'staging' } }));
    const p = props(prod);
    expect(p.source).toEqual({ type: 'SharedImageVersion', imageVersionId: `/subscriptions/${SUB}/resourceGroups/kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images/ubuntu-web/versions/1.0.0` });
    expect(p.distribute[0].galleryImageId).toMatch(/versions\/2\.0\.0$/);
    expect(p.distribute[0].targetRegions.map((r: { name: string }) => r.name)).toEqual(['eastus', 'westeurope', 'northeurope']);
    expect(p.vmProfile).toMatchObject({ osDiskSizeGB: 64, vnetConfig: { subnetId: `/subscriptions/${SUB}/resourceGroups/network-rg/providers/Microsoft.Network/virtualNetworks/build-vnet/subnets/builders` } });
    expect(p.stagingResourceGroup).toBe(`/subscriptions/${SUB}/resourceGroups/kiln-build`);
    expect(p.customize).toEqual([{ type: 'Shell', name: 'shell-1', inline: ['echo environment=staging > /etc/kiln-environment'] }]);
    expect(parseTemplate(prod.template).ok).toBe(true);
  });

  it('evaluates format, lower, upper, replace, join, formatdate, timestamp and env in a variable default', async () => {
    const text = `
variable "team" {
  default = env("TEAM")
}
locals {
  stamp = formatdate("YYYYMMDD-hhmm", timestamp())
  name  = replace(lower(format("%s_%s", var.team, "Web")), "_", "-")
}
source "azure-arm" "x" {
  image_publisher = "p"
  image_offer     = "o"
  image_sku       = "s"
  location        = "North Europe"
  managed_image_resource_group_name = "rg"
  managed_image_name = "\${local.name}-\${local.stamp}"
}
build {
  sources = ["source.azure-arm.x"]
  provisioner "shell" {
    inline = [join(" ", ["echo", upper(var.team)]), "echo \\"quoted $\${HOME}\\""]
  }
}
`;
    const result = ok(await convertText('x.pkr.hcl', text, { env: { TEAM: 'Blue' } }));
    expect(props(result).distribute[0].runOutputName).toBe('blue-web-20260304-0506');
    expect(result.template.location).toBe('northeurope');
    expect(props(result).customize[0].inline).toEqual(['echo BLUE', 'echo "quoted ${HOME}"']);
  });
});

describe('values from the user\'s shell', () => {
  const notice = (variable: string, env: string) =>
    `${variable} took its value from the environment variable ${env}; it is stored with the template and in run records — for a secret, use a sensitive variable from Key Vault (the template's "secrets")`;
  const environmentNotes = (result: PackerConversion) => result.notes.filter((n) => n.kind === 'environment');
  const hcl = `variable "team" {
  default = env("TEAM")
}
variable "owner" {
  default = env("OWNER")
}
variable "client_id" {
  default = env("ARM_CLIENT_ID")
}
source "azure-arm" "x" {
  client_id       = var.client_id
  image_publisher = "p"
  image_offer     = "o"
  image_sku       = "s"
  location        = "westeurope"
  managed_image_resource_group_name = "rg"
  managed_image_name = "img-\${var.team}"
  azure_tags = { owner = var.owner, team = var.team }
}
build {
  sources = ["source.azure-arm.x"]
}
`;

  it('HCL2: names each variable whose env() default was read and set, once, where it is declared', async () => {
    const result = ok(await convertText('t.pkr.hcl', hcl, { env: { TEAM: 'blue', ARM_CLIENT_ID: 'app-id' } }));
    expect(environmentNotes(result)).toEqual([{ kind: 'environment', at: 't.pkr.hcl:1', what: 'variable "team"', message: expect.any(String) }]);
    const [note] = environmentNotes(result);
    expect(`${note!.what} ${note!.message}`).toBe(notice('variable "team"', 'TEAM'));
    // The value does travel: that is what the note is for.
    expect(result.template.tags).toMatchObject({ team: 'blue' });
    // OWNER is unset (the value is empty, nothing of the shell's); client_id is a credential, never read.
    expect(JSON.stringify(result)).not.toContain('app-id');
    // A --var instead of the shell: nothing from the environment.
    expect(environmentNotes(ok(await convertText('t.pkr.hcl', hcl, { vars: { team: 'red' }, env: { TEAM: 'blue' } })))).toEqual([]);
  });

  it('JSON: a variable whose {{env}} was read, and {{env}} written in a field', async () => {
    const text = JSON.stringify({
      variables: { prefix: '{{env `IMAGE_PREFIX`}}', unused: '{{env `UNUSED`}}' },
      builders: [{ type: 'azure-arm', image_publisher: 'p', image_offer: 'o', image_sku: 's', location: 'eastus', managed_image_resource_group_name: 'rg', managed_image_name: '{{user `prefix`}}-{{env `SUFFIX`}}' }],
    }, null, 2);
    const result = ok(await convertText('t.json', text, { env: { IMAGE_PREFIX: 'web', SUFFIX: 'x', UNUSED: 'u' } }));
    const notes = environmentNotes(result).map((n) => `${n.at} ${n.what} ${n.message}`);
    expect(notes).toEqual([`t.json:3 ${notice('variable "prefix"', 'IMAGE_PREFIX')}`, `t.json:14 ${notice('a value', 'SUFFIX')}`]);
  });

  it('a template sent to the server reads no environment, so it has no such note', async () => {
    const viaServer = await packerFormat.convert({ text: hcl, path: 't.pkr.hcl' }, { subscriptionId: SUB });
    expect(viaServer.ok && viaServer.warnings.filter((w) => /environment variable/.test(w.message))).toEqual([]);
  });
});

describe('refused with a named, located error', () => {
  const codeOf = (r: PackerConversion) => (r.ok ? 'ok' : `${r.errors[0]!.code} at ${r.errors[0]!.at}`);

  it('an HCL syntax error names file:line:column', async () => {
    const result = await convertPath(`${FIXTURES}/bad/syntax.pkr.hcl`);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors[0]).toEqual({ code: 'HclSyntaxError', at: `${FIXTURES}/bad/syntax.pkr.hcl:3:13`, message: expect.stringMatching(/^Invalid expression/) });
  });

  it('an unsupported provisioner, builder or post-processor says why', async () => {
    const ansible = await convertPath(`${FIXTURES}/bad/ansible.json`);
    expect(codeOf(ansible)).toBe(`UnsupportedProvisioner at ${FIXTURES}/bad/ansible.json:13`);
    expect(!ansible.ok && ansible.errors[0]!.message).toMatch(/ansible-pull/);
    expect(codeOf(await convertPath(`${FIXTURES}/bad/amazon.pkr.hcl`))).toBe(`UnsupportedBuilder at ${FIXTURES}/bad/amazon.pkr.hcl:1`);
    for (const type of ['shell-local', 'breakpoint', 'chef-solo', 'puppet-masterless', 'salt-masterless']) {
      expect(codeOf(await convertText('t.json', minimalJson([{ type }])))).toMatch(/^UnsupportedProvisioner at t\.json:\d+$/);
    }
    const post = JSON.stringify({ ...JSON.parse(minimalJson([])), 'post-processors': ['compress'] });
    expect(codeOf(await convertText('t.json', post))).toMatch(/^UnsupportedPostProcessor/);
  });

  it('a variable with no value, an unknown function, an unknown field, a deprovision inside a script file', async () => {
    const missing = 'variable "rg" {\n  type = string\n}\nsource "azure-arm" "x" {\n  location = "eastus"\n  managed_image_resource_group_name = var.rg\n}\nbuild {\n  sources = ["source.azure-arm.x"]\n}\n';
    const r = await convertText('m.pkr.hcl', missing);
    expect(codeOf(r)).toBe('MissingVariable at m.pkr.hcl:1');
    expect(!r.ok && r.errors[0]!.message).toMatch(/--var rg=VALUE/);
    expect(codeOf(await convertText('f.pkr.hcl', missing.replace('var.rg', 'md5("x")')))).toBe('UnsupportedFunction at f.pkr.hcl:6');
    expect(codeOf(await convertText('t.json', minimalJson([], { spot_instance: true })))).toMatch(/^UnknownField at t\.json:\d+/);
    expect(codeOf(await convertText('t.json', minimalJson([], { custom_data_file: 'x' })))).toMatch(/^UnsupportedField/);
    expect(codeOf(await convertText('t.json', minimalJson([{ type: 'shell', script: 'x.sh' }])))).toMatch(/^LocalFileUnavailable/);

    // Local files given in memory: the converter is a pure function of its files.
    const memory = { 'clean.sh': 'apt-get clean\nwaagent -force -deprovision+user\n' };
    const files = {
      resolve: async (path: string) => (path in memory ? path : undefined),
      isDirectory: async () => false,
      list: async () => [],
      read: async (path: string) => Buffer.from(memory[path as keyof typeof memory]),
    };
    const scripted = await convertPacker({ files: [{ path: 't.json', text: minimalJson([{ type: 'shell', script: 'clean.sh' }]) }] }, { subscriptionId: SUB, localFiles: files });
    expect(codeOf(scripted)).toMatch(/^DeprovisionInScript at t\.json:\d+$/);
  });
});

describe('the Packer format of the template loader (HTTP API, blob drop)', () => {
  it('claims Packer JSON and *.pkr.hcl text, converts with parameters as variables, and warns about what it did not carry over', async () => {

    const json = JSON.parse(minimalJson([{ type: 'shell', inline: ['echo {{user `greeting`}}'] }], { ssh_username: 'x' }));
    json.variables = { greeting: 'hello' };
    expect(packerFormat.claims({ json })).toBe(true);
    expect(packerFormat.claims({ json: { properties: {} } })).toBe(false);
    expect(packerFormat.claims({ path: 'a.pkr.hcl', text: 'x' })).toBe(true);
    const converted = await packerFormat.convert({ json, path: 'web' }, { parameters: { greeting: 'hi' }, subscriptionId: SUB, name: 'web' });
    expect(converted.ok && converted.template).toMatchObject({ name: 'web', location: 'westeurope', properties: { customize: [{ inline: ['echo hi'] }] } });
    expect(converted.ok && converted.warnings).toContainEqual({ path: expect.stringMatching(/^web:\d+$/), message: expect.stringMatching(/^ssh_username: ignored/) });
    const beside = await packerFormat.convert({ json: { template: json, parameters: { greeting: { value: 'hey' } } } }, { subscriptionId: SUB });
    expect(packerFormat.claims({ json: { template: json, parameters: {} } })).toBe(true);
    expect(beside.ok && beside.template).toMatchObject({ properties: { customize: [{ inline: ['echo hey'] }] } });
    const local = await packerFormat.convert({ json: JSON.parse(minimalJson([{ type: 'file', source: 'a.txt', destination: '/a' }])) }, { subscriptionId: SUB });
    expect(!local.ok && local.errors[0]!.message).toMatch(/provisioner "file" source "a\.txt" is a local file.*kiln templates put FILE.*\(LocalFileUnavailable\)$/);
  });
});

describe('per-build provisioner settings', () => {
  const inlines = (result: Extract<PackerConversion, { ok: true }>) => (props(result).customize as { inline?: string[] }[]).map((c) => c.inline?.join('; '));

  it('JSON: the override for the azure-arm builder\'s name applies, only/except keep or skip the provisioner, each noted', async () => {
    const result = ok(await convertPath(`${FIXTURES}/overrides.json`));
    // The override's fields replace the base's (inline) and add to it (environment_vars).
    expect(inlines(result)).toEqual(["export FLAVOUR='azure'; echo azure > /etc/kiln-flavour", 'echo for-azure-too', 'echo except-vmware']);
    const notes = result.notes.filter((n) => /override|only|except/.test(n.what));
    expect(notes.map((n) => `${n.kind} ${n.at} ${n.what}`)).toEqual([
      `mapped ${FIXTURES}/overrides.json:20 provisioner "shell" override.azure-web`,
      `ignored ${FIXTURES}/overrides.json:20 provisioner "shell" override.vmware-web`,
      `ignored ${FIXTURES}/overrides.json:25 provisioner "shell" only`,
      `mapped ${FIXTURES}/overrides.json:26 provisioner "shell" only`,
      `ignored ${FIXTURES}/overrides.json:27 provisioner "shell" except`,
      `mapped ${FIXTURES}/overrides.json:28 provisioner "shell" except`,
    ]);
    expect(notes[0]!.message).toBe('applied for the azure-arm build "azure-web" Kiln bakes: inline, environment_vars');
  });

  it('JSON: a builder without a name is named by its type', async () => {
    const result = ok(await convertText('t.json', minimalJson([
      { type: 'shell', inline: ['echo base'], override: { 'azure-arm': { inline: ['echo by-type'] } } },
      { type: 'shell', only: ['azure-arm'], inline: ['echo only-type'] },
    ])));
    expect(inlines(result)).toEqual(['echo by-type', 'echo only-type']);
  });

  it('HCL2: override keys are source names; only/except take TYPE.NAME and source.TYPE.NAME', async () => {
    const result = ok(await convertPath(`${FIXTURES}/overrides.pkr.hcl`));
    expect(inlines(result)).toEqual(['echo azure > /etc/kiln-flavour', 'echo only-azure']);
    expect(result.notes).toContainEqual(expect.objectContaining({ kind: 'ignored', what: 'provisioner "shell" override.other', message: 'for another build; Kiln bakes the azure-arm build "web"' }));
    expect(result.notes).toContainEqual(expect.objectContaining({ kind: 'ignored', what: 'provisioner "shell" only', message: 'runs only for amazon-ebs.web, not for the azure-arm build "web" Kiln bakes; not run' }));
  });

  it('a malformed override or only is a named, located error', async () => {
    const bad = await convertText('t.json', minimalJson([{ type: 'shell', inline: ['x'], override: { 'azure-arm': 'inline' } }]));
    expect(!bad.ok && bad.errors[0]).toMatchObject({ code: 'InvalidField', message: 'override.azure-arm must be an object of the provisioner\'s settings' });
    const only = await convertText('t.json', minimalJson([{ type: 'shell', inline: ['x'], only: 'azure-arm' }]));
    expect(!only.ok && only.errors[0]).toMatchObject({ code: 'InvalidField', at: expect.stringMatching(/^t\.json:\d+$/), message: 'only must be a list of build names' });
  });
});

describe('Packer JSON wrapped with its values', () => {
  it('a value the wrapper cannot give (a Key Vault reference) is a named error, not dropped', async () => {

    const template = JSON.parse(minimalJson([{ type: 'shell', inline: ['echo hi'] }]));
    const refused = await packerFormat.convert({ json: { template, parameters: { secret: { reference: { keyVault: {} } } } } }, { subscriptionId: SUB });
    expect(!refused.ok && refused.errors[0]).toMatchObject({ path: 'parameters.secret', message: expect.stringMatching(/Key Vault parameter references are not supported/) });
  });
});

describe('a Packer template sent to the server', () => {
  it('reads no environment variable of the host and has no working directory', async () => {
    const secretName = 'KILN_TEST_HOST_SECRET';
    process.env[secretName] = 'host-only-value';
    try {
      const hcl = `variable "v" {\n  default = env("${secretName}")\n}\nsource "azure-arm" "x" {\n  image_publisher = "Canonical"\n  image_offer = "ubuntu-24_04-lts"\n  image_sku = "server"\n  location = "westeurope"\n  managed_image_name = "img-\${var.v}"\n  managed_image_resource_group_name = "kiln-images"\n}\nbuild {\n  sources = ["source.azure-arm.x"]\n}\n`;
      const viaServer = await packerFormat.convert({ text: hcl, path: 't.pkr.hcl' }, { subscriptionId: SUB });
      expect(JSON.stringify(viaServer)).not.toContain('host-only-value');
      const json = JSON.parse(minimalJson([{ type: 'shell', inline: ['echo {{pwd}}'] }]));
      const pwd = await packerFormat.convert({ json }, { subscriptionId: SUB });
      expect(!pwd.ok && pwd.errors[0]?.message).toMatch(/has no working directory.*UnsupportedTemplateFunction/);
    } finally {
      delete process.env[secretName];
    }
  });
});
