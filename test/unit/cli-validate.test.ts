import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { formatError, registerValidate } from '../../cli/commands/validate.ts';

const EXAMPLES = ['examples/ubuntu-web.json', 'examples/app-with-secret.json', 'examples/windows-base.json'];

let dir: string;
let badFile: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiln-cli-validate-'));
  badFile = join(dir, 'bad.json');
  await writeFile(badFile, JSON.stringify({
    properties: {
      source: { type: 'PlatformImage', publisher: 'p', offer: 'o', sku: 's', version: 'v1' },
      customize: [{ type: 'Shell', scriptUri: 'http://example.com/a.sh' }],
      distribute: [{ type: 'VHD', runOutputName: 'v' }],
    },
  }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `kiln validate` in this process and returns what it printed and its exit code. */
async function validate(...args: string[]): Promise<{ stdout: string; code: number | undefined }> {
  const program = new Command('kiln').exitOverride();
  registerValidate(program);
  let stdout = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(['validate', ...args], { from: 'user' });
    return { stdout, code: process.exitCode === undefined ? undefined : Number(process.exitCode) };
  } finally {
    write.mockRestore();
    process.exitCode = undefined;
  }
}

afterEach(() => {
  process.exitCode = undefined;
});

describe('kiln validate (in process)', () => {
  it('prints one summary line per valid file and exits 0', async () => {
    const { stdout, code } = await validate(...EXAMPLES);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(
      'ok examples/ubuntu-web.json: ubuntu-web: PlatformImage Canonical/ubuntu-24_04-lts/server@latest, 2 customizers, 1 validation, ' +
        'to ubuntu-web in eastus, westeurope, rollout to web-vmss',
    );
    expect(lines[1]).toMatch(/^ok examples\/app-with-secret.json: app-with-secret: .*rollout to app-vmss, 1 secret$/);
  });

  it('lists every error of an invalid file as `path: message` and exits 1', async () => {
    const { stdout, code } = await validate(badFile, EXAMPLES[0] ?? '');
    expect(code).toBe(1);
    expect(stdout.split('\n')).toEqual([
      `invalid ${badFile}: 2 errors`,
      `  properties.source.version: must be 'latest' or a version Major.Minor.Patch (expected 'latest' or Major.Minor.Patch, found "v1")`,
      '  properties.customize[0].scriptUri: must be an https URI (expected https://…, found "http://example.com/a.sh")',
      expect.stringMatching(/^ok examples\/ubuntu-web.json: /),
      '',
    ]);
  });

  it('reports a missing file as an error, not a crash', async () => {
    const { stdout, code } = await validate(join(dir, 'nope.json'));
    expect(code).toBe(1);
    expect(stdout).toContain(`  $: cannot read ${join(dir, 'nope.json')}: ENOENT`);
  });

  it('--json prints { file, ok, spec | errors } per file', async () => {
    const { stdout, code } = await validate('--json', badFile, EXAMPLES[2] ?? '');
    expect(code).toBe(1);
    const out = JSON.parse(stdout);
    expect(out).toHaveLength(2);
    expect(out[0]).toEqual({
      file: badFile,
      ok: false,
      errors: [
        { path: 'properties.source.version', message: "must be 'latest' or a version Major.Minor.Patch", expected: "'latest' or Major.Minor.Patch", found: '"v1"' },
        { path: 'properties.customize[0].scriptUri', message: 'must be an https URI', expected: 'https://…', found: '"http://example.com/a.sh"' },
      ],
    });
    expect(out[1]).toMatchObject({ file: 'examples/windows-base.json', ok: true, spec: { name: 'windows-base', customizers: expect.any(Array) } });
  });

  it('reads an ARM deployment template with --parameters, --param (wins) and --location, and prints its warnings', async () => {
    const arm = 'test/fixtures/templates/arm/sig-deployment.json';
    const { stdout, code } = await validate(arm, '--parameters', 'test/fixtures/templates/arm/sig-deployment.parameters.json',
      '--param', 'imageTemplateName=from-cli', '--location', 'westus3', '--resource-group', 'rg-b', '--subscription', '11111111-2222-3333-4444-555555555555');
    expect(code).toBe(0);
    expect(stdout.split('\n')).toEqual([
      `ok ${arm}: from-cli: PlatformImage Canonical/ubuntu-24_04-lts/server@latest, 1 customizer, 0 validations, to ubuntu-web in westus2, northeurope`,
      '  warning resources: Kiln bakes the imageTemplates resource only; 1 other resource is not deployed (Microsoft.ManagedIdentity/userAssignedIdentities)',
      '',
    ]);
    const missing = await validate(arm, '--location', 'westus3');
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('  parameters.imageTemplateName: parameter imageTemplateName needs a value');
  });

  it('formats an error without expected/found as plain `path: message`', () => {
    expect(formatError({ path: '$', message: 'template is empty' })).toBe('$: template is empty');
  });
});

function runBin(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--disable-warning=ExperimentalWarning', 'bin/kiln.js', ...args], (error, stdout, stderr) => {
      resolve({ stdout, stderr, code: error ? Number(error.code) : 0 });
    });
  });
}

describe('bin/kiln.js validate (child process)', () => {
  it('exits 0 for the examples', async () => {
    const { stdout, code, stderr } = await runBin(['validate', ...EXAMPLES]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(3);
  });

  it('exits 1 for an invalid file and 2 for a usage error', async () => {
    expect((await runBin(['validate', badFile])).code).toBe(1);
    const usage = await runBin(['validate']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("missing required argument 'files'");
  });
});
