import { describe, expect, it } from 'vitest';
import type { BakeSpec } from '../../src/template/spec.ts';
import {
  bumpPatch,
  cronProblem,
  isScheduleDue,
  patchFamily,
  planPatchRebuild,
  planSourceUpdateRebuild,
  sourceUpdateDecision,
  SchedulePlanError,
} from '../../src/pipeline/schedule.ts';

const imageId =
  '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images/ubuntu-web';

function spec(overrides: Partial<BakeSpec> = {}): BakeSpec {
  return {
    name: 'ubuntu-web',
    location: 'eastus',
    tags: {},
    managedResourceTags: {},
    source: { type: 'PlatformImage', publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
    customizers: [{ type: 'Shell', name: 'nginx', script: { kind: 'inline', lines: ['apt-get install -y nginx'] }, secrets: [] }],
    validation: { inVMValidations: [], continueDistributeOnFailure: false, sourceValidationOnly: false },
    distributions: [{
      type: 'SharedImage', runOutputName: 'web', galleryImageId: imageId,
      image: { id: imageId, subscriptionId: '00000000-0000-0000-0000-000000000000', resourceGroup: 'kiln-images', gallery: 'kilnGallery', image: 'ubuntu-web' },
      versioning: { scheme: 'Latest' }, regions: [{ name: 'eastus', replicaCount: 1, storageAccountType: 'Standard_LRS' }],
      excludeFromLatest: false, artifactTags: {},
    }],
    vmProfile: { vmSize: 'Standard_D2ds_v4', userAssignedIdentities: [] },
    buildTimeoutInMinutes: 240,
    errorHandling: { onCustomizerError: 'cleanup', onValidationError: 'cleanup' },
    secrets: {},
    rollout: [],
    approval: { required: false, timeout: { iso: 'PT24H', ms: 86_400_000 } },
    schedule: { patch: '0 0 3 * * 0', onSourceUpdate: false },
    notify: { webhooks: [] },
    ...overrides,
  };
}

describe('patch family', () => {
  it('follows the marketplace publisher', () => {
    expect(patchFamily(spec())).toBe('apt');
    expect(patchFamily(spec({ source: { type: 'PlatformImage', publisher: 'RedHat', offer: 'RHEL', sku: '9', version: 'latest' } }))).toBe('dnf');
    expect(patchFamily(spec({ source: { type: 'PlatformImage', publisher: 'SUSE', offer: 'sles-15', sku: 'gen2', version: 'latest' } }))).toBe('zypper');
    expect(patchFamily(spec({ source: { type: 'PlatformImage', publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022', version: 'latest' } }))).toBe('windows');
  });

  it('falls back to the steps, then to the gallery OS type, else says what it could not tell', () => {
    const managed = spec({ source: { type: 'ManagedImage', imageId: '/subscriptions/x/resourceGroups/y/providers/Microsoft.Compute/images/z' } });
    expect(patchFamily(managed)).toBe('apt');
    expect(patchFamily({ ...managed, customizers: [] }, 'Windows')).toBe('windows');
    expect(() => patchFamily({ ...managed, customizers: [] }, 'Linux')).toThrow(SchedulePlanError);
    expect(() => patchFamily({ ...managed, customizers: [] })).toThrow(/cannot tell which patch step fits its OS/);
  });
});

describe('patch rebuild plan', () => {
  it('starts from the latest gallery version, runs only the patch step and bumps the patch number', () => {
    const planned = planPatchRebuild(spec(), { latestVersion: '1.0.3', highestVersion: '1.0.4' });
    expect(planned.source).toMatchObject({ type: 'SharedImageVersion', version: '1.0.3', imageVersionId: `${imageId}/versions/1.0.3` });
    expect(planned.customizers).toHaveLength(1);
    expect(planned.customizers[0]).toMatchObject({ type: 'Shell', name: 'patch (apt)' });
    const lines = planned.customizers[0]?.type === 'Shell' && planned.customizers[0].script.kind === 'inline' ? planned.customizers[0].script.lines : [];
    expect(lines.join('\n')).toContain('apt-get -y');
    expect(planned.distributions[0]).toMatchObject({ type: 'SharedImage', version: '1.0.5' });
  });

  it('uses Windows Update and a restart for Windows images', () => {
    const windows = spec({ source: { type: 'PlatformImage', publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022', version: 'latest' }, customizers: [] });
    expect(planPatchRebuild(windows, { latestVersion: '2.1.0', highestVersion: '2.1.0' }).customizers.map((c) => c.type))
      .toEqual(['WindowsUpdate', 'WindowsRestart']);
  });

  it('refuses a template with no gallery distribution', () => {
    expect(() => planPatchRebuild(spec({ distributions: [] }), { latestVersion: '1.0.0', highestVersion: '1.0.0' }))
      .toThrow(/needs a SharedImage distribution/);
  });
});

describe('source updates', () => {
  it('rebuilds only for a newer marketplace version; the first look sets the baseline', () => {
    expect(sourceUpdateDecision('22.04.202611010', undefined)).toBe('baseline');
    expect(sourceUpdateDecision('22.04.202611010', '22.04.202611010')).toBe('unchanged');
    expect(sourceUpdateDecision('22.04.202611200', '22.04.202611010')).toBe('rebuild');
    expect(sourceUpdateDecision('22.04.9', '22.04.10')).toBe('unchanged');
  });

  it('pins the source to the new version', () => {
    expect(planSourceUpdateRebuild(spec(), '22.04.202611200').source).toMatchObject({ version: '22.04.202611200' });
    expect(() => planSourceUpdateRebuild(spec({ source: { type: 'ManagedImage', imageId: 'x' } }), '1')).toThrow(/PlatformImage/);
  });
});

describe('versions and schedules', () => {
  it('bumps the patch', () => {
    expect(bumpPatch('1.9.9')).toBe('1.9.10');
    expect(() => bumpPatch('latest')).toThrow(/Major.Minor.Patch/);
  });

  it('is due when an NCRONTAB occurrence falls in the window', () => {
    const sunday3am = '0 0 3 * * 0';
    expect(isScheduleDue(sunday3am, new Date('2026-11-28T00:00:00Z'), new Date('2026-11-29T02:59:59Z'))).toBe(false);
    expect(isScheduleDue(sunday3am, new Date('2026-11-28T00:00:00Z'), new Date('2026-11-29T03:00:00Z'))).toBe(true);
    expect(cronProblem(sunday3am)).toBeUndefined();
    expect(cronProblem('every sunday')).toBeTypeOf('string');
  });
});
