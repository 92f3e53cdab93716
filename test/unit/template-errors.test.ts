import { describe, expect, it } from 'vitest';
import { parseTemplate, type TemplateError } from '../../src/template/index.ts';

const SUB = '/subscriptions/11111111-2222-3333-4444-555555555555';
const GALLERY = `${SUB}/resourceGroups/kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images`;
const VMSS = `${SUB}/resourceGroups/web-prod/providers/Microsoft.Compute/virtualMachineScaleSets`;

/** A valid template using most features; each row below breaks one thing. */
function base(): Record<string, any> {
  return {
    type: 'Microsoft.VirtualMachineImages/imageTemplates',
    name: 'table',
    location: 'eastus',
    tags: { team: 'web' },
    properties: {
      source: { type: 'PlatformImage', publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
      secrets: { DB_PASSWORD: { vault: 'kiln-secrets', name: 'db-password' } },
      customize: [
        { type: 'Shell', name: 'config', secrets: ['DB_PASSWORD'], inline: ['echo configured'] },
        { type: 'File', name: 'file', sourceUri: 'https://files.example.com/a.txt', destination: '/tmp/a.txt', sha256Checksum: 'a'.repeat(64) },
      ],
      validate: { inVMValidations: [{ type: 'Shell', name: 'check', inline: ['true'] }] },
      distribute: [
        { type: 'SharedImage', galleryImageId: `${GALLERY}/ubuntu-web`, runOutputName: 'web', targetRegions: [{ name: 'eastus' }, { name: 'westeurope' }] },
      ],
      rollout: [{ scaleSetId: `${VMSS}/web-vmss` }],
      schedule: { patch: '0 0 3 * * 0' },
    },
  };
}

type Row = [what: string, mutate: (t: Record<string, any>) => void, path: string, message?: RegExp];

const windowsSteps = (t: Record<string, any>, step: Record<string, unknown>) => {
  t.properties.customize = [{ type: 'PowerShell', inline: ['echo hi'] }, step];
  t.properties.validate = {};
};

const rows: Row[] = [
  // source
  ['source missing', (t) => delete t.properties.source, 'properties.source', /is required/],
  ['unknown source type', (t) => (t.properties.source.type = 'Marketplace'), 'properties.source.type', /unknown type/],
  ['source publisher missing', (t) => delete t.properties.source.publisher, 'properties.source.publisher', /is required/],
  ['platform version not Major.Minor.Patch', (t) => (t.properties.source.version = '1.2'), 'properties.source.version', /Major.Minor.Patch/],
  ['managed image id names a VM', (t) => (t.properties.source = { type: 'ManagedImage', imageId: `${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1` }), 'properties.source.imageId', /managed image/],
  ['image version id with a bad subscription', (t) => (t.properties.source = { type: 'SharedImageVersion', imageVersionId: '/subscriptions/xyz/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i/versions/1.0.0' }), 'properties.source.imageVersionId', /ARM id/],
  ['image version with a two-part version', (t) => (t.properties.source = { type: 'SharedImageVersion', imageVersionId: `${GALLERY}/ubuntu-web/versions/1.0` }), 'properties.source.imageVersionId'],
  ['a typo in a field name', (t) => (t.properties.distribute[0].aritfactTags = {}), 'properties.distribute[0].aritfactTags', /did you mean "artifactTags"\?/],
  // customizers
  ['customize is not a list', (t) => (t.properties.customize = { type: 'Shell' }), 'properties.customize', /must be an array/],
  ['customizer without type', (t) => delete t.properties.customize[0].type, 'properties.customize[0].type', /is required/],
  ['unknown customizer type', (t) => (t.properties.customize[0].type = 'Ansible'), 'properties.customize[0].type', /unknown type/],
  ['Shell with inline and scriptUri', (t) => (t.properties.customize[0].scriptUri = 'https://example.com/s.sh'), 'properties.customize[0]', /exactly one of inline or scriptUri/],
  ['Shell with neither inline nor scriptUri', (t) => delete t.properties.customize[0].inline, 'properties.customize[0]', /exactly one/],
  ['scriptUri over http', (t) => { delete t.properties.customize[0].inline; t.properties.customize[0].scriptUri = 'http://example.com/s.sh'; }, 'properties.customize[0].scriptUri', /https/],
  ['checksum of 63 characters', (t) => (t.properties.customize[1].sha256Checksum = 'a'.repeat(63)), 'properties.customize[1].sha256Checksum', /SHA-256/],
  ['checksum beside inline', (t) => (t.properties.customize[0].sha256Checksum = 'b'.repeat(64)), 'properties.customize[0].sha256Checksum', /only with scriptUri/],
  ['File sourceUri over http', (t) => (t.properties.customize[1].sourceUri = 'http://files.example.com/a.txt'), 'properties.customize[1].sourceUri', /https/],
  ['File sourceUri a malformed upload URI', (t) => (t.properties.customize[1].sourceUri = `kiln-upload://sha256/${'A'.repeat(64)}`), 'properties.customize[1].sourceUri', /https URI or a Kiln upload URI/],
  ['File without destination', (t) => delete t.properties.customize[1].destination, 'properties.customize[1].destination', /is required/],
  ['undeclared secret', (t) => t.properties.customize[0].secrets.push('API_TOKEN'), 'properties.customize[0].secrets[1]', /API_TOKEN is not declared/],
  ['inline line that is a number', (t) => t.properties.customize[0].inline.push(42), 'properties.customize[0].inline[1]', /must be a string/],
  ['PowerShell after Shell', (t) => t.properties.customize.push({ type: 'PowerShell', inline: ['Write-Host hi'] }), 'properties.customize[2].type', /cannot mix/],
  ['WindowsRestart timeout that is no duration', (t) => windowsSteps(t, { type: 'WindowsRestart', restartTimeout: 'soon' }), 'properties.customize[1].restartTimeout', /duration/],
  ['WindowsUpdate limit -1', (t) => windowsSteps(t, { type: 'WindowsUpdate', updateLimit: -1 }), 'properties.customize[1].updateLimit', /at least 0/],
  ['runAsSystem without runElevated', (t) => windowsSteps(t, { type: 'PowerShell', inline: ['x'], runAsSystem: true }), 'properties.customize[1].runElevated', /^RunAsSystemNeedsRunElevated:/],
  ['runElevated as the build user', (t) => windowsSteps(t, { type: 'PowerShell', inline: ['x'], runElevated: true }), 'properties.customize[1].runAsSystem', /^RunElevatedAsBuildUserUnsupported:.*runAsPassword/],
  ['script timeout over Run Command\'s 90 minutes', (t) => (t.properties.customize[0].timeout = '2h'), 'properties.customize[0].timeout', /^ScriptTimeoutTooLong:/],
  ['step timeout that is no duration', (t) => (t.properties.customize[0].timeout = 'long'), 'properties.customize[0].timeout', /duration/],
  ['PowerShell validExitCodes not integers', (t) => windowsSteps(t, { type: 'PowerShell', inline: ['x'], validExitCodes: [0.5] }), 'properties.customize[1].validExitCodes[0]', /integer/],
  // validation
  ['File validator without a destination', (t) => (t.properties.validate.inVMValidations[0] = { type: 'File', sourceUri: 'https://x.example/a' }), 'properties.validate.inVMValidations[0].destination', /is required/],
  ['sourceValidationOnly with customizers', (t) => (t.properties.validate.sourceValidationOnly = true), 'properties.validate.sourceValidationOnly', /cannot be true/],
  ['unknown validate field', (t) => (t.properties.validate.retries = 3), 'properties.validate.retries', /not supported/],
  // distribution
  ['distribute missing', (t) => delete t.properties.distribute, 'properties.distribute', /is required/],
  ['distribute empty', (t) => (t.properties.distribute = []), 'properties.distribute', /at least 1 item/],
  ['unknown distribution type', (t) => (t.properties.distribute[0].type = 'Image'), 'properties.distribute[0].type', /unknown type/],
  ['galleryImageId names a scale set', (t) => (t.properties.distribute[0].galleryImageId = `${VMSS}/web-vmss`), 'properties.distribute[0].galleryImageId', /gallery image/],
  ['galleryImageId with version 1.0', (t) => (t.properties.distribute[0].galleryImageId = `${GALLERY}/ubuntu-web/versions/1.0`), 'properties.distribute[0].galleryImageId'],
  ['replicationRegions and targetRegions', (t) => (t.properties.distribute[0].replicationRegions = ['eastus']), 'properties.distribute[0].targetRegions', /replicationRegions/],
  ['a region twice', (t) => (t.properties.distribute[0].targetRegions[1].name = 'East US'), 'properties.distribute[0].targetRegions[1].name', /listed twice/],
  ['replicaCount 0', (t) => (t.properties.distribute[0].targetRegions[0].replicaCount = 0), 'properties.distribute[0].targetRegions[0].replicaCount', /at least 1/],
  ['unknown storage account type', (t) => (t.properties.distribute[0].targetRegions[0].storageAccountType = 'Premium_ZRS'), 'properties.distribute[0].targetRegions[0].storageAccountType', /must be one of/],
  ['runOutputName with a space', (t) => (t.properties.distribute[0].runOutputName = 'web image'), 'properties.distribute[0].runOutputName', /run output name/],
  ['duplicate runOutputName', (t) => t.properties.distribute.push({ type: 'VHD', runOutputName: 'web' }), 'properties.distribute[1].runOutputName', /duplicates/],
  ['versioning with a pinned version', (t) => Object.assign(t.properties.distribute[0], { galleryImageId: `${GALLERY}/ubuntu-web/versions/1.2.3`, versioning: { scheme: 'Latest' } }), 'properties.distribute[0].versioning', /names a version/],
  ['unknown versioning scheme', (t) => (t.properties.distribute[0].versioning = { scheme: 'Next' }), 'properties.distribute[0].versioning.scheme', /unknown scheme/],
  ['ManagedImage outside the build region', (t) => t.properties.distribute.push({ type: 'ManagedImage', imageId: `${SUB}/resourceGroups/rg/providers/Microsoft.Compute/images/img`, location: 'West US', runOutputName: 'mi' }), 'properties.distribute[1].location', /captured from the build VM, which is in eastus; bake in westus/],
  ['ManagedImage without location', (t) => t.properties.distribute.push({ type: 'ManagedImage', imageId: `${SUB}/resourceGroups/rg/providers/Microsoft.Compute/images/img`, runOutputName: 'mi' }), 'properties.distribute[1].location', /is required/],
  // build VM and the rest of AIB
  ['subnet id names a vnet', (t) => (t.properties.vmProfile = { vnetConfig: { subnetId: `${SUB}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet` } }), 'properties.vmProfile.vnetConfig.subnetId', /subnet/],
  ['AIB proxyVmSize', (t) => (t.properties.vmProfile = { vnetConfig: { subnetId: `${SUB}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/s`, proxyVmSize: 'Standard_A1_v2' } }), 'properties.vmProfile.vnetConfig.proxyVmSize', /not supported by Kiln \(Kiln reaches build VMs/],
  ['negative disk size', (t) => (t.properties.vmProfile = { osDiskSizeGB: -1 }), 'properties.vmProfile.osDiskSizeGB', /at least 0/],
  ['bad build VM identity', (t) => (t.properties.vmProfile = { userAssignedIdentities: ['my-identity'] }), 'properties.vmProfile.userAssignedIdentities[0]', /managed identity/],
  ['timeout 961 minutes', (t) => (t.properties.buildTimeoutInMinutes = 961), 'properties.buildTimeoutInMinutes', /at most 960/],
  ['timeout 1.5 minutes', (t) => (t.properties.buildTimeoutInMinutes = 1.5), 'properties.buildTimeoutInMinutes', /integer/],
  ['staging group that is not a group id', (t) => (t.properties.stagingResourceGroup = 'rg-staging'), 'properties.stagingResourceGroup', /resource group/],
  ['unknown error action', (t) => (t.properties.errorHandling = { onCustomizerError: 'ignore' }), 'properties.errorHandling.onCustomizerError', /must be one of/],
  ['AIB optimize', (t) => (t.properties.optimize = { vmBoot: { state: 'Enabled' } }), 'properties.optimize', /field "optimize" is not supported by Kiln/],
  ['AIB autoRun', (t) => (t.properties.autoRun = { state: 'Enabled' }), 'properties.autoRun', /not supported/],
  ['unknown resource field', (t) => (t.kind = 'x'), 'kind', /field "kind" is not supported/],
  ['wrong resource type', (t) => (t.type = 'Microsoft.Compute/images'), 'type', /imageTemplate resource type/],
  ['identity key that is no identity id', (t) => (t.identity = { type: 'UserAssigned', userAssignedIdentities: { '/bad': {} } }), 'identity.userAssignedIdentities["/bad"]'],
  ['template name with spaces', (t) => (t.name = 'my template'), 'name', /template name/],
  ['location that is no region', (t) => (t.location = 'East US!'), 'location', /region/],
  ['tag value that is a number', (t) => (t.tags.team = 1), 'tags.team', /must be a string/],
  // Kiln extensions
  ['secret name that is no variable name', (t) => (t.properties.secrets['db-password'] = { vault: 'kiln-secrets', name: 'x' }), 'properties.secrets["db-password"]', /secret name/],
  ['vault name too short', (t) => (t.properties.secrets.DB_PASSWORD.vault = 'kv'), 'properties.secrets.DB_PASSWORD.vault', /Key Vault name/],
  ['secret URI over http', (t) => (t.properties.secrets.DB_PASSWORD = 'http://kiln-secrets.vault.azure.net/secrets/db-password'), 'properties.secrets.DB_PASSWORD', /secret URI/],
  ['rollout to a VM id', (t) => (t.properties.rollout[0].scaleSetId = `${SUB}/resourceGroups/web-prod/providers/Microsoft.Compute/virtualMachines/vm1`), 'properties.rollout[0].scaleSetId', /scale set/],
  ['batchPercent 0', (t) => (t.properties.rollout[0].batchPercent = 0), 'properties.rollout[0].batchPercent', /at least 1/],
  ['rollout mode not auto or batches', (t) => (t.properties.rollout[0].mode = 'fast'), 'properties.rollout[0].mode', /auto.*batches/],
  ['pause in Go form', (t) => (t.properties.rollout[0].pauseBetweenBatches = '5m'), 'properties.rollout[0].pauseBetweenBatches', /ISO 8601/],
  ['same scale set twice', (t) => t.properties.rollout.push({ scaleSetId: `${VMSS}/WEB-VMSS`.replace('web-prod', 'web-prod') }), 'properties.rollout[1].scaleSetId', /duplicates/],
  ['rollout with two gallery targets', (t) => t.properties.distribute.push({ type: 'SharedImage', galleryImageId: `${GALLERY}/ubuntu-app`, runOutputName: 'app' }), 'properties.rollout', /exactly one SharedImage/],
  ['approval without required', (t) => (t.properties.approval = { timeout: 'PT1H' }), 'properties.approval.required', /is required/],
  ['approval timeout in months', (t) => (t.properties.approval = { required: true, timeout: 'P1M' }), 'properties.approval.timeout', /ISO 8601/],
  ['approval with no rollout', (t) => { t.properties.approval = { required: true }; delete t.properties.rollout; }, 'properties.approval.required', /no rollout/],
  ['5-field cron', (t) => (t.properties.schedule.patch = '0 3 * * 0'), 'properties.schedule.patch', /6-field NCRONTAB/],
  ['cron hour 25', (t) => (t.properties.schedule.patch = '0 0 25 * * *'), 'properties.schedule.patch', /6-field NCRONTAB/],
  ['webhook over plain http to a remote host', (t) => (t.properties.notify = { webhooks: ['http://hooks.example.com/x'] }), 'properties.notify.webhooks[0]', /https URL/],
  ['webhooks not a list', (t) => (t.properties.notify = { webhooks: 'https://hooks.example.com/x' }), 'properties.notify.webhooks', /must be an array/],
  ['onSourceUpdate with a pinned source', (t) => { t.properties.schedule.onSourceUpdate = true; t.properties.source.version = '1.2.3'; }, 'properties.schedule.onSourceUpdate', /'latest'/],
];

describe('malformed templates: each error names its path', () => {
  it('the base template is valid', () => {
    expect(parseTemplate(base())).toMatchObject({ ok: true });
  });

  it.each(rows.map(([what, mutate, path, message]) => ({ what, mutate, path, message })))('$what → $path', ({ mutate, path, message }) => {
    const template = base();
    mutate(template);
    const result = parseTemplate(template);
    expect(result.ok).toBe(false);
    const errors: TemplateError[] = result.ok ? [] : result.errors;
    const hit = errors.find((e) => e.path === path);
    expect(hit, `errors were ${JSON.stringify(errors, null, 2)}`).toBeDefined();
    if (message) expect(hit?.message).toMatch(message);
    // Every error says what it found (a missing field is "nothing").
    expect(hit?.found).toBeDefined();
  });

  it('gives expected and found for a format error', () => {
    const template = base();
    template.properties.customize[1].sha256Checksum = 'xyz';
    const result = parseTemplate(template);
    expect(result).toEqual({
      ok: false,
      errors: [{ path: 'properties.customize[1].sha256Checksum', message: 'must be a SHA-256 checksum', expected: '64 hexadecimal characters (or "" for none)', found: '"xyz"' }],
    });
  });

  it('lists every error at once', () => {
    const template = base();
    template.properties.source.version = 'x';
    template.properties.buildTimeoutInMinutes = -1;
    template.properties.optimize = {};
    const result = parseTemplate(template);
    expect(result.ok ? [] : result.errors.map((e) => e.path).sort()).toEqual(
      ['properties.buildTimeoutInMinutes', 'properties.optimize', 'properties.source.version'],
    );
  });

  it('paths of a bare properties object have no prefix', () => {
    const { properties } = base();
    properties.customize[1].sourceUri = 'ftp://x';
    const result = parseTemplate(properties);
    expect(result.ok ? [] : result.errors.map((e) => e.path)).toEqual(['customize[1].sourceUri']);
  });
});
