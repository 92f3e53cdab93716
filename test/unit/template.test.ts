import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS, parseTemplate, loadTemplate, loadTemplateFile, type BakeSpec, type ParseResult } from '../../src/template/index.ts';
import { isoFromMs, parseAibDuration, parseIsoDuration } from '../../src/template/duration.ts';

const fixtures = 'test/fixtures/templates';

function spec(result: ParseResult): BakeSpec {
  if (!result.ok) throw new Error(`expected a valid template, got ${JSON.stringify(result.errors, null, 2)}`);
  return result.spec;
}

function only(result: ParseResult) {
  expect(result.ok).toBe(false);
  return result.ok ? [] : result.errors;
}

describe('AIB-shaped templates and the examples', () => {
  it.each(['ubuntu-web.json', 'app-with-secret.json', 'windows-base.json'])('example %s validates', async (file) => {
    expect(spec(await loadTemplateFile(join('examples', file))).name).toBe(file.replace('.json', ''));
  });

  it("the examples' File checksums match the files the emulator serves from examples/files", async () => {
    let checked = 0;
    for (const file of ['ubuntu-web.json', 'app-with-secret.json', 'windows-base.json']) {
      for (const step of spec(await loadTemplateFile(join('examples', file))).customizers) {
        if (step.type !== 'File') continue;
        const served = /^https:\/\/127\.0\.0\.1:\d+\/kiln-files\/(.+)$/.exec(step.sourceUri)?.[1];
        expect(served, step.sourceUri).toBeDefined();
        const body = await readFile(join('examples/files', served ?? ''));
        expect(step.sha256Checksum).toBe(createHash('sha256').update(body).digest('hex'));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('every fixture parses', async () => {
    const files = (await readdir(fixtures)).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    // A properties-only fixture takes its region from outside, as `--location` gives it.
    for (const file of files) spec(await loadTemplateFile(join(fixtures, file), { location: 'eastus' }));
  });

  it('normalizes a managed-image quickstart: ids, checksums, names, timeout', async () => {
    const s = spec(await loadTemplateFile(join(fixtures, 'aib-linux-managed-image.json')));
    expect(s.name).toBe('aib-linux-managed-image'); // no resource name: the file name
    expect(s.location).toBe('westus2');
    expect(s.buildTimeoutInMinutes).toBe(80);
    expect(s.customizers.map((c) => c.type)).toEqual(['Shell', 'Shell', 'File', 'Shell', 'Shell']);
    expect(s.customizers[0]).toMatchObject({ script: { kind: 'uri', sha256Checksum: '2c6ff6902a4a52deee69e8db26d0036a53388651008aaf31795bb20dabd21fd8' } });
    expect(s.distributions[0]).toMatchObject({ type: 'ManagedImage', location: 'westus2', runOutputName: 'aibCustomLinuxImg01ro' });
    expect(s.errorHandling).toEqual({ onCustomizerError: 'cleanup', onValidationError: 'cleanup' });
  });

  it('turns replicationRegions into one region list with defaults, normalizing "East US"', async () => {
    const s = spec(await loadTemplateFile(join(fixtures, 'aib-linux-sig.json')));
    const dist = s.distributions[0];
    expect(dist?.type).toBe('SharedImage');
    if (dist?.type !== 'SharedImage') return;
    expect(dist.regions).toEqual([
      { name: 'westus2', replicaCount: 1, storageAccountType: 'Standard_LRS' },
      { name: 'eastus', replicaCount: 1, storageAccountType: 'Standard_LRS' },
    ]);
    expect(dist.image).toMatchObject({ resourceGroup: 'rg-aib-sig', gallery: 'myIbGallery', image: 'myIbImageDef' });
    expect(dist.versioning).toEqual({ scheme: 'Latest' });
    expect(dist.version).toBeUndefined();
  });

  it('fills Windows defaults and converts AIB Go durations to ISO', async () => {
    const s = spec(await loadTemplateFile(join(fixtures, 'aib-windows-sig.json')));
    expect(s.customizers[0]).toMatchObject({ type: 'PowerShell', name: 'CreateBuildPath', runElevated: false, runAsSystem: false, validExitCodes: [0] });
    expect(s.customizers[1]).toMatchObject({ type: 'WindowsRestart', name: 'WindowsRestart-2', restartTimeout: { iso: 'PT5M', ms: 300_000 } });
    expect(s.customizers[1]).toHaveProperty('restartCommand');
    expect(s.customizers[4]).toMatchObject({ type: 'WindowsUpdate', updateLimit: 20, searchCriteria: 'IsInstalled=0' });
    const dist = s.distributions[0];
    expect(dist).toMatchObject({
      versioning: { scheme: 'Latest', major: 2 },
      regions: [
        { name: 'westus2', replicaCount: 2, storageAccountType: 'Standard_ZRS' },
        { name: 'eastus', replicaCount: 1, storageAccountType: 'Standard_LRS' },
      ],
    });
  });

  it('accepts a bare properties object; timeout 0 means 240; pinned versions are split off', async () => {
    const file = join(fixtures, 'aib-properties-only-sig-source.json');
    expect(only(await loadTemplateFile(file))).toEqual([{
      path: '$', message: expect.stringContaining('needs a location'), expected: 'a region such as eastus', found: 'nothing',
    }]);
    const s = spec(await loadTemplateFile(file, { location: 'North Europe' }));
    expect(s.location).toBe('northeurope');
    expect(s.buildTimeoutInMinutes).toBe(240);
    expect(s.source).toMatchObject({ type: 'SharedImageVersion', version: '1.0.3', image: { image: 'myIbImageDef' } });
    expect(s.distributions[0]).toMatchObject({ version: '1.0.4', excludeFromLatest: true, galleryImageId: expect.stringMatching(/images\/myIbImageDef$/) });
    expect(s.distributions[1]).toEqual({ type: 'VHD', runOutputName: 'patchedVhd', artifactTags: {} });
    expect(s.vmProfile.subnetId).toMatch(/subnets\/build$/);
    expect(s.errorHandling.onCustomizerError).toBe('abort');
    expect(s.validation.inVMValidations[0]).toMatchObject({ type: 'Shell', name: 'check' });
  });

  it('normalizes the Kiln extensions: secret refs, rollout defaults, approval, schedule', async () => {
    const s = spec(await loadTemplateFile(join(fixtures, 'kiln-extensions.json')));
    expect(s.secrets).toEqual({
      DB_PASSWORD: { vault: 'kiln-secrets', name: 'db-password' },
      API_TOKEN: { vault: 'kiln-secrets', name: 'api-token', version: '0123456789abcdef0123456789abcdef' },
    });
    expect(s.rollout[0]).toEqual({
      scaleSetId: '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/app-prod/providers/Microsoft.Compute/virtualMachineScaleSets/app-vmss',
      subscriptionId: '11111111-2222-3333-4444-555555555555',
      resourceGroup: 'app-prod',
      scaleSetName: 'app-vmss',
      batchPercent: 20,
      maxUnhealthyPercent: 20,
      pauseBetweenBatches: { iso: 'PT0S', ms: 0 },
      rollbackOnFailure: true,
      mode: 'auto',
    });
    expect(s.rollout[1]).toMatchObject({ batchPercent: 50, maxUnhealthyPercent: 0, pauseBetweenBatches: { ms: 90_000 }, rollbackOnFailure: false, mode: 'batches' });
    expect(s.approval).toEqual({ required: true, timeout: { iso: 'P1DT12H', ms: 36 * 3_600_000 } });
    expect(s.schedule).toEqual({ patch: '0 30 2 * * Sun', onSourceUpdate: false });
    expect(s.notify).toEqual({ webhooks: ['https://hooks.example.com/kiln?team=app', 'http://127.0.0.1:9000/done'] });
  });

  it('a minimal template gets every default', () => {
    const s = spec(parseTemplate({
      source: { type: 'PlatformImage', publisher: 'p', offer: 'o', sku: 's', version: 'latest' },
      distribute: [{ type: 'VHD', runOutputName: 'v' }],
    }, { name: 'minimal', location: 'East US' }));
    expect(s).toEqual({
      name: 'minimal', location: 'eastus', tags: {}, managedResourceTags: {},
      source: { type: 'PlatformImage', publisher: 'p', offer: 'o', sku: 's', version: 'latest' },
      customizers: [],
      validation: { inVMValidations: [], continueDistributeOnFailure: false, sourceValidationOnly: false },
      distributions: [{ type: 'VHD', runOutputName: 'v', artifactTags: {} }],
      vmProfile: { vmSize: 'Standard_D2ds_v4', userAssignedIdentities: [] },
      buildTimeoutInMinutes: 240,
      errorHandling: { onCustomizerError: 'cleanup', onValidationError: 'cleanup' },
      secrets: {}, rollout: [],
      approval: { required: false, timeout: { iso: 'PT24H', ms: 86_400_000 } },
      schedule: { onSourceUpdate: false },
      notify: { webhooks: [] },
    });
  });

  it('the name option wins over the resource name', async () => {
    const text = await readFile('examples/ubuntu-web.json', 'utf8');
    expect(spec(await loadTemplate({ text }, { name: 'other' })).name).toBe('other');
  });
});

describe('durations', () => {
  it.each([
    ['PT0S', 0], ['PT30M', 1_800_000], ['PT1H30M', 5_400_000], ['P1D', 86_400_000], ['P1W', 604_800_000], ['PT0.5S', 500],
  ])('ISO %s is %d ms', (text, ms) => expect(parseIsoDuration(text)).toEqual({ iso: text, ms }));

  it.each(['P', 'PT', 'P1M', 'P1Y', '30M', 'PT-1S', ''])('rejects %j', (text) => expect(parseIsoDuration(text)).toBeUndefined());

  it('reads AIB Go durations', () => {
    expect(parseAibDuration('10m')).toEqual({ iso: 'PT10M', ms: 600_000 });
    expect(parseAibDuration('1h30m')).toEqual({ iso: 'PT1H30M', ms: 5_400_000 });
    expect(parseAibDuration('')).toBeUndefined();
    expect(isoFromMs(0)).toBe('PT0S');
  });
});

describe('bad input never crashes or hangs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-template-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('text that is not JSON', async () => {
    expect(only(await loadTemplate({ text: 'source: PlatformImage\n' }))).toEqual([
      { path: '$', message: expect.stringMatching(/^not valid JSON: /) },
    ]);
  });

  it('an empty file', async () => {
    const file = join(dir, 'empty.json');
    await writeFile(file, '');
    expect(only(await loadTemplateFile(file))).toEqual([{ path: '$', message: 'template is empty', expected: 'a JSON object', found: 'an empty file' }]);
    expect(only(await loadTemplate({ text: ' \n\t' }))[0]?.message).toBe('template is empty');
  });

  it('a missing file or a directory', async () => {
    expect(only(await loadTemplateFile(join(dir, 'nope.json')))).toEqual([{ path: '$', message: `cannot read ${join(dir, 'nope.json')}: ENOENT` }]);
    expect(only(await loadTemplateFile(dir))).toEqual([{ path: '$', message: `cannot read ${dir}: not a file` }]);
  });

  it('JSON that is not an object', async () => {
    expect(only(await loadTemplate({ text: '[1, 2]' }))[0]).toEqual({ path: '$', message: expect.stringContaining('must be a JSON object'), expected: 'an object', found: 'an array of 2 items' });
    expect(only(await loadTemplate({ text: 'null' }))[0]?.found).toBe('null');
  });

  it('a 50 MB file is refused by its size without being read', { timeout: 5_000 }, async () => {
    const file = join(dir, 'big.json');
    await writeFile(file, '');
    await truncate(file, 50 * 1024 * 1024);
    expect(only(await loadTemplateFile(file))).toEqual([{
      path: '$',
      message: `template is 52428800 bytes; Kiln's limit is ${LIMITS.maxTemplateBytes} bytes`,
      expected: `at most ${LIMITS.maxTemplateBytes} bytes`,
      found: '52428800 bytes',
    }]);
  });

  it('50 MB of text is refused by its size', { timeout: 5_000 }, async () => {
    const text = `{"properties": {"customize": [${'{"type":"Shell","inline":["true"]},'.repeat(1_500_000)}]}}`;
    expect(text.length).toBeGreaterThan(50 * 1024 * 1024);
    expect(only(await loadTemplate({ text }))[0]?.message).toMatch(/Kiln's limit is 1048576 bytes/);
  });

  it('10,000 customizers hit the customizer limit', { timeout: 5_000 }, () => {
    const customize = Array.from({ length: 10_000 }, (_, i) => ({ type: 'Shell', name: `s${i}`, inline: ['true'] }));
    const template = {
      location: 'eastus',
      properties: {
        source: { type: 'PlatformImage', publisher: 'p', offer: 'o', sku: 's', version: 'latest' },
        customize,
        distribute: [{ type: 'VHD', runOutputName: 'v' }],
      },
    };
    expect(only(parseTemplate(template))).toEqual([{
      path: 'properties.customize',
      message: `has 10000 customizers; Kiln's limit is ${LIMITS.maxCustomizers}`,
      expected: `at most ${LIMITS.maxCustomizers} customizers`,
      found: '10000',
    }]);
    // At exactly the limit the template is valid.
    template.properties.customize = customize.slice(0, LIMITS.maxCustomizers);
    expect(parseTemplate(template).ok).toBe(true);
  });

  it('thousands of errors are cut to a readable list', async () => {
    const customize = Array.from({ length: LIMITS.maxCustomizers }, () => ({ type: 'Shell', inline: 'not-a-list', bogus: 1 }));
    const errors = only(parseTemplate({ source: {}, customize, distribute: [] }));
    expect(errors).toHaveLength(101);
    expect(errors[100]?.message).toMatch(/^and \d+ more errors$/);
  });

  it('deeply nested JSON gives an error, not a stack overflow', { timeout: 5_000 }, async () => {
    const depth = 400_000;
    const errors = only(await loadTemplate({ text: `${'['.repeat(depth)}${']'.repeat(depth)}` }));
    expect(errors[0]?.path).toBe('$');
  });
});
