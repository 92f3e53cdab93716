import { describe, expect, it } from 'vitest';
import { isGalleryVersion, nextVersion, runCommandName, stagingNames } from '../../src/activities/naming.ts';
import { compareVersions, highestVersion } from '../../src/azure/galleries.ts';

const def = '/subscriptions/s/resourceGroups/kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images/ubuntu-web';

describe('next gallery version', () => {
  it('is the next patch after the highest version, compared numerically', () => {
    expect(nextVersion({ galleryImageId: def, versioning: { scheme: 'Latest' } }, ['1.0.9', '1.0.10', '1.0.2'], undefined)).toBe('1.0.11');
  });

  it('starts at 1.0.0 (or major.0.0) in an empty definition', () => {
    expect(nextVersion({ galleryImageId: def, versioning: { scheme: 'Latest' } }, [], undefined)).toBe('1.0.0');
    expect(nextVersion({ galleryImageId: def, versioning: { scheme: 'Latest', major: 3 } }, ['1.0.4'], undefined)).toBe('3.0.0');
  });

  it('stays within the requested major', () => {
    expect(nextVersion({ galleryImageId: def, versioning: { scheme: 'Latest', major: 1 } }, ['1.2.3', '2.0.0'], undefined)).toBe('1.2.4');
  });

  it('takes the template pinned version as it is', () => {
    expect(nextVersion({ galleryImageId: def, version: '4.5.6', versioning: { scheme: 'Latest' } }, ['9.9.9'], undefined)).toBe('4.5.6');
  });

  it('uses the source version for scheme Source and rejects one that is not Major.Minor.Patch', () => {
    expect(nextVersion({ galleryImageId: def, versioning: { scheme: 'Source' } }, [], '22.4.202611010')).toBe('22.4.202611010');
    expect(() => nextVersion({ galleryImageId: def, versioning: { scheme: 'Source' } }, [], 'latest')).toThrow(/Major.Minor.Patch, found "latest"/);
    expect(() => nextVersion({ galleryImageId: def, versioning: { scheme: 'Source' } }, [], undefined)).toThrow(/found null/);
  });

  it('ignores names that are not gallery versions and refuses to pass the 32-bit limit', () => {
    expect(nextVersion({ galleryImageId: def, versioning: { scheme: 'Latest' } }, ['latest', '1.0.1'], undefined)).toBe('1.0.2');
    expect(isGalleryVersion('1.0.2147483648')).toBe(false);
    expect(() => nextVersion({ galleryImageId: def, versioning: { scheme: 'Latest' } }, ['1.0.2147483647'], undefined)).toThrow(/no next patch/);
  });

  it('orders versions as the gallery does', () => {
    expect(compareVersions('1.0.10', '1.0.9')).toBeGreaterThan(0);
    expect(highestVersion(['1.0.9', '1.0.10', '0.9.99'])).toBe('1.0.10');
    expect(highestVersion([])).toBeUndefined();
  });
});

describe('staging names', () => {
  it('are deterministic per run and distinct between runs', () => {
    const a = stagingNames('ubuntu-web-20261125T131900Z-3f2a');
    expect(stagingNames('ubuntu-web-20261125T131900Z-3f2a')).toEqual(a);
    expect(stagingNames('ubuntu-web-20261125T131900Z-3f2b').vm).not.toBe(a.vm);
    expect(a.resourceGroup).toBe('kiln-staging-ubuntu-web-20261125T131900Z-3f2a');
  });

  it('keep a Windows computer name within 15 characters and use a given group', () => {
    const n = stagingNames('a-very-long-template-name-that-goes-on-and-on-20261125T131900Z-3f2a', 'my-rg');
    expect(n.computerName.length).toBeLessThanOrEqual(15);
    expect(n.resourceGroup).toBe('my-rg');
  });

  it('name Run Commands by phase and position', () => {
    expect(runCommandName('customize', 0)).toBe('kiln-customize-01');
    expect(runCommandName('validate', 11)).toBe('kiln-validate-12');
    expect(runCommandName('deprovision')).toBe('kiln-deprovision');
  });
});
