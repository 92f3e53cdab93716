// The build VM's security type: one the source and every target take, Trusted Launch when a definition asks for it.
import { describe, expect, it } from 'vitest';
import { ANY_BUILD, chooseBuildSecurity, definitionConstraint, STANDARD_ONLY } from '../../src/activities/security-type.ts';

const feature = (value: string) => [{ name: 'SecurityType', value }];

describe('build security type', () => {
  it('stays Standard unless a definition asks for Trusted Launch', () => {
    expect(chooseBuildSecurity([ANY_BUILD('properties.source', 'marketplace'), definitionConstraint('d0', 'std', undefined)])).toEqual({ type: 'Standard' });
    expect(chooseBuildSecurity([ANY_BUILD('properties.source', 'marketplace'), definitionConstraint('d0', 'tls', feature('TrustedLaunchSupported'))])).toEqual({ type: 'TrustedLaunch' });
  });

  it('builds Standard when a TrustedLaunchSupported source meets a Standard target (it used to build Trusted Launch)', () => {
    expect(chooseBuildSecurity([definitionConstraint('src', 'source', feature('TrustedLaunchSupported'), 'V2'), definitionConstraint('d0', 'std', undefined)])).toEqual({ type: 'Standard' });
  });

  it('names the parts that cannot agree', () => {
    const tlOnly = definitionConstraint('d0', 'tl', feature('TrustedLaunch'));
    const result = chooseBuildSecurity([ANY_BUILD('properties.source', 'marketplace'), tlOnly, STANDARD_ONLY('d1', 'a managed image')]);
    expect('conflict' in result && result.conflict.map((c) => c.path)).toEqual(['d0', 'd1']);
    // A V1 source definition takes only Standard whatever its feature says; confidential-only takes nothing Kiln builds.
    expect('conflict' in chooseBuildSecurity([definitionConstraint('src', 's', feature('TrustedLaunchSupported'), 'V1'), tlOnly])).toBe(true);
    expect('conflict' in chooseBuildSecurity([definitionConstraint('d0', 'cvm', feature('ConfidentialVM'))])).toBe(true);
  });
});
