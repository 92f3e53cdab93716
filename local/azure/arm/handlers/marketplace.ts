/**
 * Marketplace image versions (`virtualMachineImages.list`): what a PlatformImage source's `latest` is. Every image
 * the emulator accepts lists a baseline version; tests publish newer ones (`PUT /_emulator/marketplace`) to drive
 * source-update rebuilds. The catalogue is the marketplace's, not the subscription's, so it is not persisted.
 */
import { armError } from '../errors.ts';
import type { Route } from '../routes.ts';
import { compareVersions, isObject } from '../validate.ts';

/** What every marketplace image lists until a newer version is published. */
export const BASELINE_MARKETPLACE_VERSION = '1.0.0';

export interface MarketplaceImage {
  publisher: string;
  offer: string;
  sku: string;
}

export interface MarketplaceCatalogue {
  /** The image's versions, oldest first. */
  versions(image: MarketplaceImage): string[];
  /** Adds a version (Major.Minor.Patch); returns the image's versions. */
  publish(image: MarketplaceImage, version: string): string[];
}

const keyOf = (image: MarketplaceImage): string => [image.publisher, image.offer, image.sku].join(':').toLowerCase();

export function createMarketplaceCatalogue(): MarketplaceCatalogue {
  const published = new Map<string, Set<string>>();
  const versions = (image: MarketplaceImage): string[] =>
    [...new Set([BASELINE_MARKETPLACE_VERSION, ...(published.get(keyOf(image)) ?? [])])].sort(compareVersions);
  return {
    versions,
    publish(image, version) {
      compareVersions(version, version); // throws InvalidParameter for a name that is not Major.Minor.Patch
      const set = published.get(keyOf(image)) ?? new Set<string>();
      set.add(version);
      published.set(keyOf(image), set);
      return versions(image);
    },
  };
}

/** Reads `{ publisher, offer, sku, version }` from the admin route's body, naming the first bad field. */
export function publishRequest(body: unknown): { image: MarketplaceImage; version: string } {
  const fields = ['publisher', 'offer', 'sku', 'version'] as const;
  const value = isObject(body) ? body : {};
  for (const field of fields) {
    if (typeof value[field] !== 'string' || value[field] === '') {
      throw armError('InvalidRequestContent', `Body field '${field}': expected a non-empty string, found ${JSON.stringify(value[field])}.`, 400);
    }
  }
  const { publisher, offer, sku, version } = value as Record<(typeof fields)[number], string>;
  return { image: { publisher, offer, sku }, version };
}

export function marketplaceRoutes(catalogue: MarketplaceCatalogue): Route[] {
  return [
    {
      method: 'GET',
      pattern:
        '/subscriptions/{sub}/providers/Microsoft.Compute/locations/{location}/publishers/{publisher}/artifacttypes/vmimage/offers/{offer}/skus/{sku}/versions',
      operation: 'virtualMachineImages.list',
      api: 'compute',
      handler: (req) => {
        const { sub, location, publisher, offer, sku } = req.params as Record<string, string>;
        const body = catalogue.versions({ publisher: publisher!, offer: offer!, sku: sku! }).map((name) => ({
          name,
          location,
          id: `/Subscriptions/${sub}/Providers/Microsoft.Compute/Locations/${location}/Publishers/${publisher}/ArtifactTypes/VMImage/Offers/${offer}/Skus/${sku}/Versions/${name}`,
        }));
        return { status: 200, body };
      },
    },
  ];
}
