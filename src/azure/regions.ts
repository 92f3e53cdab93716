/** Azure region names: the one normalisation Kiln uses for templates, Packer display names and Azure responses. */

/** "East US", "eastus" and "EastUS" are one region: ARM's name is the display name without spaces, lower case. */
export function normalizeRegion(name: string): string {
  return name.replace(/\s+/g, '').toLowerCase();
}

/** Whether two region names (names or display names) are the same region. */
export function sameRegion(a: string, b: string): boolean {
  return normalizeRegion(a) === normalizeRegion(b);
}
