// Every AIB shape and AIB's own reading of values: both resource type spellings, properties alone (location from
// outside, never a default), `az image builder show` output, "" and 0 as defaults, and what is refused.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTemplate, loadTemplateFile, parseTemplate, type LoadResult } from '../../src/template/index.ts';

const fixtures = 'test/fixtures/templates';

function loaded(result: LoadResult) {
  if (!result.ok) throw new Error(`expected a valid template, got ${JSON.stringify(result.errors, null, 2)}`);
  return result;
}

describe('AIB shapes', () => {
  it('reads type "Microsoft.VirtualMachineImages" (the quickstarts\' spelling) with its apiVersion, and "" as the default', async () => {
    const result = loaded(await loadTemplateFile(join(fixtures, 'aib-bare-short-type.json')));
    expect(result.shape).toBe('AIB imageTemplate resource');
    expect(result.warnings).toEqual([]);
    const { spec } = result;
    expect(spec).toMatchObject({ name: 'aib-bare-short-type', location: 'westus2', tags: { imagebuilderTemplate: 'ubuntu-sig', env: 'test' } });
    expect(spec.vmProfile).toEqual({ vmSize: 'Standard_D2ds_v4', userAssignedIdentities: [] }); // vmSize "" and osDiskSizeGB 0: defaults
    expect(spec.customizers[0]).toEqual({ type: 'Shell', name: 'fetchAndRun', script: { kind: 'uri', uri: 'https://files.example.com/build/setup.sh' }, secrets: [] });
    expect(spec.customizers[1]).not.toHaveProperty('sha256Checksum');
    expect(spec.validation.inVMValidations).toEqual([
      { type: 'File', name: 'checkScript', sourceUri: 'https://files.example.com/build/check.sh', destination: '/tmp/check.sh' },
      { type: 'Shell', name: 'runCheck', script: { kind: 'inline', lines: ['bash /tmp/check.sh'] }, secrets: [] },
    ]);
    expect(spec.distributions[0]).toMatchObject({ versioning: { scheme: 'Latest' }, regions: [{ name: 'westus2' }, { name: 'eastus' }] });
    expect(spec.distributions[1]).toEqual({ type: 'VHD', runOutputName: 'jammyVhd', artifactTags: {} });
  });

  it('accepts `az image builder show` output: read-only fields and nulls dropped with a warning each, AIB defaults applied', async () => {
    const result = loaded(await loadTemplateFile(join(fixtures, 'aib-show-output.json')));
    expect(result.warnings.map((w) => w.path)).toEqual([
      'id', 'systemData', 'resourceGroup', 'properties.provisioningState', 'properties.lastRunStatus', 'properties.exactStagingResourceGroup', 'properties.source.exactVersion',
    ]);
    expect(result.warnings[6]?.message).toBe('read-only field exactVersion (set by Azure Image Builder) is ignored');
    const { spec } = result;
    expect(spec.name).toBe('winPatch');
    expect(spec.managedResourceTags).toEqual({ costCenter: 'cc-7' });
    // /versions/latest names no version: the plan resolves the newest one.
    expect(spec.source).toMatchObject({ type: 'SharedImageVersion', image: { image: 'win2022' } });
    expect(spec.source).not.toHaveProperty('version');
    expect(spec.customizers[1]).toMatchObject({ type: 'WindowsRestart', restartCommand: expect.stringContaining('shutdown /r'), restartTimeout: { iso: 'PT5M' } });
    expect(spec.customizers[1]).not.toHaveProperty('restartCheckCommand');
    expect(spec.customizers[2]).toMatchObject({ type: 'WindowsUpdate', searchCriteria: 'IsInstalled=0', updateLimit: 1000, filters: [] });
    expect(spec.vmProfile.vmSize).toBe('Standard_D2ds_v4');
    expect(spec).not.toHaveProperty('stagingResourceGroup');
  });

  it('properties alone need a location from outside; a bad --location is named', async () => {
    const props = { source: { type: 'PlatformImage', publisher: 'p', offer: 'o', sku: 's', version: 'latest' }, distribute: [{ type: 'VHD', runOutputName: 'v' }] };
    expect(await loadTemplate({ json: props })).toEqual({ ok: false, errors: [{ path: '$', message: expect.stringContaining('needs a location'), expected: 'a region such as eastus', found: 'nothing' }] });
    const withLocation = loaded(await loadTemplate({ json: props }, { location: 'West Europe', name: 'p' }));
    expect(withLocation.spec.location).toBe('westeurope');
    // What a client sends on: a complete resource, so the server needs no --location.
    expect(withLocation.template).toEqual({ location: 'West Europe', properties: props });
    expect(await loadTemplate({ json: props }, { location: 'not a region!' })).toMatchObject({ ok: false, errors: [{ path: 'location', message: expect.stringContaining('must be an Azure region name') }] });
    // A resource without a location is refused as well; its own location wins over --location.
    expect(parseTemplate({ properties: props })).toMatchObject({ ok: false, errors: [{ path: 'location' }] });
    expect(loaded(await loadTemplate({ json: { location: 'eastus', properties: props } }, { location: 'westus' })).spec.location).toBe('eastus');
  });

  it('an unknown field still fails, with "did you mean" when a known field is close', () => {
    const result = parseTemplate({
      location: 'eastus',
      properties: {
        source: { type: 'PlatformImage', publisher: 'p', offer: 'o', sku: 's', version: 'latest' },
        distribute: [{ type: 'ManagedImage', imageId: '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/r/providers/Microsoft.Compute/images/i', location: 'eastus', runOutputName: 'm', aritfactTags: {} }],
        vmprofile: {},
        totallyUnknown: 1,
      },
    });
    expect(result).toEqual({
      ok: false,
      errors: [
        { path: 'properties.distribute[0].aritfactTags', message: 'field "aritfactTags" is not supported by Kiln; did you mean "artifactTags"?', found: 'an object' },
        { path: 'properties.vmprofile', message: 'field "vmprofile" is not supported by Kiln; did you mean "vmProfile"?', found: 'an object' },
        { path: 'properties.totallyUnknown', message: 'field "totallyUnknown" is not supported by Kiln', found: '1' },
      ],
    });
  });

  it('still refuses a distribution to /versions/latest and what Kiln does not do', () => {
    const gallery = '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/r/providers/Microsoft.Compute/galleries/g/images/i';
    const result = parseTemplate({
      location: 'eastus',
      properties: {
        source: { type: 'PlatformImage', publisher: 'p', offer: 'o', sku: 's', version: 'latest' },
        distribute: [{ type: 'SharedImage', galleryImageId: `${gallery}/versions/latest`, runOutputName: 's' }],
        optimize: { vmBoot: { state: 'Enabled' } },
      },
    });
    expect(result).toMatchObject({
      ok: false,
      errors: [
        { path: 'properties.distribute[0].galleryImageId', message: expect.stringContaining('must be the ARM id of a gallery image definition') },
        { path: 'properties.optimize', message: expect.stringContaining('not supported by Kiln (VM boot optimization') },
      ],
    });
  });
});
