/**
 * Security types (Trusted Launch, confidential VMs) between gallery image definitions, VMs, managed images and
 * versions, as Compute checks them: what a definition's `SecurityType` feature may say, that these types need a
 * Hyper-V V2 image, which VM security types a definition accepts (to boot from, and to capture from).
 */
import { errors } from '../errors.ts';
import { isObject, type Json } from '../validate.ts';

export type VmSecurityType = 'Standard' | 'TrustedLaunch' | 'ConfidentialVM';

const VM_TYPES: readonly VmSecurityType[] = ['Standard', 'TrustedLaunch', 'ConfidentialVM'];

/** A definition's SecurityType feature and the VM security types it takes. */
const ACCEPTS: Record<string, readonly VmSecurityType[]> = {
  Standard: ['Standard'],
  TrustedLaunch: ['TrustedLaunch'],
  TrustedLaunchSupported: ['Standard', 'TrustedLaunch'],
  ConfidentialVM: ['ConfidentialVM'],
  ConfidentialVMSupported: ['Standard', 'ConfidentialVM'],
  TrustedLaunchAndConfidentialVmSupported: ['Standard', 'TrustedLaunch', 'ConfidentialVM'],
};

const featureOf = (properties: Json): Json | undefined =>
  (Array.isArray(properties.features) ? properties.features : []).find((f): f is Json => isObject(f) && f.name === 'SecurityType');

/** A definition's security type: its SecurityType feature, Standard without one. */
export function definitionSecurityType(properties: Json): string {
  const value = featureOf(properties)?.value;
  return typeof value === 'string' ? value : 'Standard';
}

/** A definition's SecurityType must be one Compute knows, and any but Standard needs Hyper-V V2. */
export function checkDefinitionSecurity(properties: Json): void {
  const feature = featureOf(properties);
  if (!feature) return;
  const value = feature.value;
  if (typeof value !== 'string' || !(value in ACCEPTS)) {
    throw errors.invalidParameter('properties.features', `The value ${JSON.stringify(value)} of feature 'SecurityType' is not valid: expected one of ${Object.keys(ACCEPTS).join(', ')}.`);
  }
  const generation = properties.hyperVGeneration ?? 'V1';
  if (value !== 'Standard' && generation !== 'V2') {
    throw errors.invalidParameter('properties.features', `Feature 'SecurityType' with value '${value}' needs hyperVGeneration V2; the definition is ${String(generation)}.`);
  }
}

/** The VM's `securityProfile.securityType` (Standard when absent), checked against the values Compute takes. */
export function vmSecurityType(properties: Json): VmSecurityType {
  const profile = isObject(properties.securityProfile) ? properties.securityProfile : undefined;
  const value = profile?.securityType ?? 'Standard';
  if (!VM_TYPES.includes(value as VmSecurityType)) {
    throw errors.invalidParameter('securityProfile.securityType', `securityProfile.securityType must be one of ${VM_TYPES.join(', ')}, found ${JSON.stringify(value)}.`);
  }
  return value as VmSecurityType;
}

/** A VM boots its image only with a security type the image allows: Trusted Launch and confidential VMs need V2. */
export function checkVmSecurity(type: VmSecurityType, image: { hyperVGeneration: 'V1' | 'V2'; securityType?: string; managedImage?: boolean; id?: string }): void {
  if (type !== 'Standard' && image.managedImage) {
    throw errors.invalidParameter('securityProfile.securityType', `Security type '${type}' is not supported for a VM made from a managed image; use a gallery image version.`);
  }
  if (type !== 'Standard' && image.hyperVGeneration !== 'V2') {
    throw errors.invalidParameter('securityProfile.securityType', `Security type '${type}' needs a Hyper-V generation V2 image; the image is ${image.hyperVGeneration}.`);
  }
  if (image.securityType !== undefined && !(ACCEPTS[image.securityType] ?? ['Standard']).includes(type)) {
    throw errors.invalidParameter('securityProfile.securityType', `The gallery image '${image.id}' has security type '${image.securityType}', which takes VMs of security type ${(ACCEPTS[image.securityType] ?? []).join(' or ')}; the VM's is '${type}'.`);
  }
}

/** A version is captured only from a VM whose security type its definition accepts. */
export function checkCaptureSecurity(type: VmSecurityType, definition: { name: string; properties: Json }): void {
  const securityType = definitionSecurityType(definition.properties);
  if (!(ACCEPTS[securityType] ?? ['Standard']).includes(type)) {
    throw errors.invalidParameter('properties.storageProfile.source', `The source virtual machine has security type '${type}', which gallery image definition '${definition.name}' (security type '${securityType}') does not accept: it takes ${(ACCEPTS[securityType] ?? []).join(' or ')}.`);
  }
}

/** Managed images cannot be captured from Trusted Launch or confidential VMs (only gallery versions can). */
export function checkManagedImageSecurity(type: VmSecurityType): void {
  if (type !== 'Standard') {
    throw errors.invalidParameter('properties.sourceVirtualMachine', `A managed image cannot be captured from a virtual machine of security type '${type}'; capture it to a gallery image version whose definition accepts ${type}.`);
  }
}
