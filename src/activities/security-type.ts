/**
 * The build VM's security type (Standard or Trusted Launch; Kiln builds no confidential VMs): one that the source
 * boots with and that every target accepts, as Compute checks it (a gallery definition's SecurityType feature, managed
 * images only from Standard VMs, Trusted Launch only on Hyper-V V2).
 */

export type BuildSecurityType = 'Standard' | 'TrustedLaunch';

/** A definition's SecurityType feature and the VM security types it takes (Standard without the feature). */
const ACCEPTS: Record<string, readonly string[]> = {
  Standard: ['Standard'],
  TrustedLaunch: ['TrustedLaunch'],
  TrustedLaunchSupported: ['Standard', 'TrustedLaunch'],
  ConfidentialVM: ['ConfidentialVM'],
  ConfidentialVMSupported: ['Standard', 'ConfidentialVM'],
  TrustedLaunchAndConfidentialVmSupported: ['Standard', 'TrustedLaunch', 'ConfidentialVM'],
};

/** What one part of the bake (the source, a target) allows of the build VM, and the template path it comes from. */
export interface SecurityConstraint {
  path: string;
  what: string;
  accepts: readonly string[];
  /** A gallery definition that takes Trusted Launch: the build uses it when all allow (as AIB does). */
  asksTrustedLaunch?: boolean;
}

export function securityTypeOf(features: Array<{ name?: string; value?: string }> | undefined): string {
  return features?.find((f) => f.name === 'SecurityType')?.value ?? 'Standard';
}

/** A gallery definition's constraint (the source's also needs V2 for anything but Standard). */
export function definitionConstraint(path: string, name: string, features: Array<{ name?: string; value?: string }> | undefined, generation?: string): SecurityConstraint {
  const type = securityTypeOf(features);
  const accepts = (ACCEPTS[type] ?? ['Standard']).filter((t) => t === 'Standard' || generation !== 'V1');
  return { path, what: `image definition ${name} (SecurityType ${type})`, accepts, asksTrustedLaunch: accepts.includes('TrustedLaunch') };
}

export const STANDARD_ONLY = (path: string, what: string): SecurityConstraint => ({ path, what, accepts: ['Standard'] });
export const ANY_BUILD = (path: string, what: string, generation?: string): SecurityConstraint =>
  ({ path, what, accepts: generation === 'V1' ? ['Standard'] : ['Standard', 'TrustedLaunch'] });

/** The security type every constraint allows (Trusted Launch when a definition asks for it), or the conflict. */
export function chooseBuildSecurity(constraints: SecurityConstraint[]): { type: BuildSecurityType } | { conflict: SecurityConstraint[] } {
  const allowed = (t: string) => constraints.every((c) => c.accepts.includes(t));
  const wantsTrustedLaunch = constraints.some((c) => c.asksTrustedLaunch);
  for (const type of (wantsTrustedLaunch ? ['TrustedLaunch', 'Standard'] : ['Standard', 'TrustedLaunch']) as BuildSecurityType[]) {
    if (allowed(type)) return { type };
  }
  return { conflict: constraints.filter((c) => !c.accepts.includes('Standard') || !c.accepts.includes('TrustedLaunch')) };
}
