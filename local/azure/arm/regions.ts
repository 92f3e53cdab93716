/**
 * The emulator's region catalogue: ARM names and the display names Azure answers with in some places (gallery
 * target regions and replication status), and the location check every resource PUT goes through.
 */
import { errors } from './errors.ts';

/** Public-cloud regions with their display names (`az account list-locations`). */
const REGIONS: ReadonlyArray<readonly [name: string, displayName: string]> = [
  ['eastus', 'East US'], ['eastus2', 'East US 2'], ['centralus', 'Central US'], ['northcentralus', 'North Central US'],
  ['southcentralus', 'South Central US'], ['westcentralus', 'West Central US'], ['westus', 'West US'], ['westus2', 'West US 2'],
  ['westus3', 'West US 3'], ['canadacentral', 'Canada Central'], ['canadaeast', 'Canada East'], ['brazilsouth', 'Brazil South'],
  ['northeurope', 'North Europe'], ['westeurope', 'West Europe'], ['uksouth', 'UK South'], ['ukwest', 'UK West'],
  ['francecentral', 'France Central'], ['germanywestcentral', 'Germany West Central'], ['swedencentral', 'Sweden Central'],
  ['switzerlandnorth', 'Switzerland North'], ['norwayeast', 'Norway East'], ['polandcentral', 'Poland Central'],
  ['italynorth', 'Italy North'], ['eastasia', 'East Asia'], ['southeastasia', 'Southeast Asia'], ['japaneast', 'Japan East'],
  ['japanwest', 'Japan West'], ['koreacentral', 'Korea Central'], ['australiaeast', 'Australia East'],
  ['australiasoutheast', 'Australia Southeast'], ['centralindia', 'Central India'], ['southindia', 'South India'],
  ['uaenorth', 'UAE North'], ['southafricanorth', 'South Africa North'],
];

const DISPLAY = new Map(REGIONS);

/** ARM's form of a region written either way ("East US" → eastus). */
export function regionName(value: string): string {
  return value.replace(/\s+/g, '').toLowerCase();
}

/** The display name Azure shows for a region (the name itself for one the catalogue lacks). */
export function displayName(value: string): string {
  return DISPLAY.get(regionName(value)) ?? value;
}

export function regionNames(): string[] {
  return REGIONS.map(([name]) => name);
}

/** The region's ARM name, or Azure's 400 for a location the resource type is not offered in. */
export function checkLocation(value: string, resourceType: string, target = 'location'): string {
  const name = regionName(value);
  if (DISPLAY.has(name)) return name;
  if (resourceType === 'resourceGroups') {
    throw errors.locationNotAvailableForResourceGroup(value, regionNames(), target);
  }
  throw errors.locationNotAvailableForResourceType(value, resourceType, regionNames(), target);
}
