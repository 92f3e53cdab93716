/**
 * The marketplace catalogue: publishers, offers, skus and versions with Azure's version numbers
 * (`24.04.202411010`), OS type, Hyper-V generation and purchase plans; the list/get routes
 * (`virtualMachineImages.*`) and the check a VM's marketplace imageReference meets. Tests publish newer versions
 * (`PUT /_emulator/marketplace`) to drive source-update rebuilds. Every image is offered in every catalogue region.
 * The catalogue is the marketplace's, not the subscription's, so it is not persisted.
 */
import { withContext, type HandlerContext } from '../context.ts';
import { errors } from '../errors.ts';
import type { ArmRequest, ArmResponse } from '../http.ts';
import { checkLocation } from '../regions.ts';
import type { Route } from '../routes.ts';
import { compareVersions, isObject } from '../validate.ts';

export interface MarketplaceImage {
  publisher: string;
  offer: string;
  sku: string;
}

export interface PurchasePlan {
  name: string;
  product: string;
  publisher: string;
}

/** One sku of the catalogue with what Azure says about its versions. */
export interface MarketplaceSku extends MarketplaceImage {
  osType: 'Linux' | 'Windows';
  hyperVGeneration: 'V1' | 'V2';
  osDiskSizeGB: number;
  versions: string[];
  plan?: PurchasePlan;
}

const UBUNTU_2404 = ['24.04.202409120', '24.04.202410170', '24.04.202411010'];
const UBUNTU_2204 = ['22.04.202409110', '22.04.202410020', '22.04.202411010'];
const WINDOWS_2022 = ['20348.2700.240911', '20348.2762.241009', '20348.2849.241106'];

const SKUS: MarketplaceSku[] = [
  { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', osType: 'Linux', hyperVGeneration: 'V2', osDiskSizeGB: 30, versions: UBUNTU_2404 },
  { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server-gen1', osType: 'Linux', hyperVGeneration: 'V1', osDiskSizeGB: 30, versions: UBUNTU_2404 },
  { publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts-gen2', osType: 'Linux', hyperVGeneration: 'V2', osDiskSizeGB: 30, versions: UBUNTU_2204 },
  { publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts', osType: 'Linux', hyperVGeneration: 'V1', osDiskSizeGB: 30, versions: UBUNTU_2204 },
  { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter-azure-edition', osType: 'Windows', hyperVGeneration: 'V2', osDiskSizeGB: 127, versions: WINDOWS_2022 },
  { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter', osType: 'Windows', hyperVGeneration: 'V1', osDiskSizeGB: 127, versions: WINDOWS_2022 },
  { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter-g2', osType: 'Windows', hyperVGeneration: 'V2', osDiskSizeGB: 127, versions: WINDOWS_2022 },
  { publisher: 'RedHat', offer: 'RHEL', sku: '9-lvm-gen2', osType: 'Linux', hyperVGeneration: 'V2', osDiskSizeGB: 64, versions: ['9.4.2024081415', '9.5.2024111214'] },
  // A third-party image sold with a plan: a VM made from it must carry the plan.
  {
    publisher: 'center-for-internet-security-inc', offer: 'cis-ubuntu-linux-2204-l1', sku: 'cis-ubuntu2204-l1-gen2', osType: 'Linux', hyperVGeneration: 'V2', osDiskSizeGB: 30,
    versions: ['2.0.3', '2.0.4'], plan: { name: 'cis-ubuntu2204-l1-gen2', product: 'cis-ubuntu-linux-2204-l1', publisher: 'center-for-internet-security-inc' },
  },
];

const keyOf = (image: MarketplaceImage): string => [image.publisher, image.offer, image.sku].join(':').toLowerCase();
const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export interface MarketplaceCatalogue {
  find(image: MarketplaceImage): MarketplaceSku | undefined;
  /** The image's versions, oldest first (empty for an image the catalogue lacks). */
  versions(image: MarketplaceImage): string[];
  /** Adds a version (Major.Minor.Patch) to a catalogue image; returns the image's versions. */
  publish(image: MarketplaceImage, version: string): string[];
}

export function createMarketplaceCatalogue(): MarketplaceCatalogue {
  const published = new Map<string, Set<string>>();
  const find = (image: MarketplaceImage) => SKUS.find((s) => keyOf(s) === keyOf(image));
  const versions = (image: MarketplaceImage): string[] => {
    const sku = find(image);
    return sku ? [...new Set([...sku.versions, ...(published.get(keyOf(image)) ?? [])])].sort(compareVersions) : [];
  };
  return {
    find,
    versions,
    publish(image, version) {
      compareVersions(version, version); // throws InvalidParameter for a name that is not Major.Minor.Patch
      if (!find(image)) throw errors.platformImageNotFound(`${image.publisher}:${image.offer}:${image.sku}:${version}`);
      const set = published.get(keyOf(image)) ?? new Set<string>();
      set.add(version);
      published.set(keyOf(image), set);
      return versions(image);
    },
  };
}

/** What a VM made from a marketplace reference gets; refuses images, versions and missing plans as Azure does. */
export function resolveMarketplace(catalogue: MarketplaceCatalogue, reference: MarketplaceImage & { version?: string }, plan: unknown): MarketplaceSku & { version: string } {
  const version = reference.version ?? 'latest';
  const urn = `${reference.publisher}:${reference.offer}:${reference.sku}:${version}`;
  const sku = catalogue.find(reference);
  if (!sku) throw errors.platformImageNotFound(urn);
  const versions = catalogue.versions(sku);
  const chosen = version.toLowerCase() === 'latest' ? versions.at(-1)! : versions.find((v) => v === version);
  if (!chosen) throw errors.platformImageNotFound(urn);
  if (sku.plan) {
    if (!isObject(plan)) {
      throw errors.marketplacePlanMissing();
    }
    if (!same(String(plan.name), sku.plan.name) || !same(String(plan.product), sku.plan.product) || !same(String(plan.publisher), sku.plan.publisher)) {
      throw errors.marketplacePlanMismatch(sku.plan, plan);
    }
  }
  return { ...sku, version: chosen };
}

/** Reads `{ publisher, offer, sku, version }` from the admin route's body, naming the first bad field. */
export function publishRequest(body: unknown): { image: MarketplaceImage; version: string } {
  const fields = ['publisher', 'offer', 'sku', 'version'] as const;
  const value = isObject(body) ? body : {};
  for (const field of fields) {
    if (typeof value[field] !== 'string' || value[field] === '') {
      throw errors.invalidRequestContent(`Body field '${field}': expected a non-empty string, found ${JSON.stringify(value[field])}.`);
    }
  }
  const { publisher, offer, sku, version } = value as Record<(typeof fields)[number], string>;
  return { image: { publisher, offer, sku }, version };
}

const BASE = '/subscriptions/{sub}/providers/Microsoft.Compute/locations/{location}/publishers';

type Params = Record<string, string>;

const publisherId = (p: Params, ...rest: string[]) =>
  [`/Subscriptions/${p.sub}/Providers/Microsoft.Compute/Locations/${p.location}/Publishers/${p.publisher}`, ...rest].join('/');
const entry = (p: Params, name: string, ...rest: string[]) => ({ name, location: p.location, id: publisherId(p, ...rest, name) });
const inRegion = (p: Params) => checkLocation(p.location!, 'Microsoft.Compute/locations/publishers');
const unique = (names: string[]) => [...new Set(names)];

/** The catalogue's SKUs the path names (publisher, and offer and sku when given); none is Azure's 404. */
function matching(p: Params): MarketplaceSku[] {
  inRegion(p);
  const found = SKUS.filter((s) => same(s.publisher, p.publisher!) && (!p.offer || same(s.offer, p.offer)) && (!p.sku || same(s.sku, p.sku)));
  if (found.length === 0) throw errors.vmImageArtifactNotFound();
  return found;
}

export function listPublishers(_ctx: HandlerContext, req: ArmRequest): ArmResponse {
  inRegion(req.params);
  return { status: 200, body: unique(SKUS.map((s) => s.publisher)).map((name) => ({ name, location: req.params.location, id: `/Subscriptions/${req.params.sub}/Providers/Microsoft.Compute/Locations/${req.params.location}/Publishers/${name}` })) };
}

export const listOffers = (_ctx: HandlerContext, req: ArmRequest): ArmResponse =>
  ({ status: 200, body: unique(matching(req.params).map((s) => s.offer)).map((o) => entry(req.params, o, 'ArtifactTypes/VMImage/Offers')) });

export const listSkus = (_ctx: HandlerContext, req: ArmRequest): ArmResponse =>
  ({ status: 200, body: matching(req.params).map((s) => entry(req.params, s.sku, `ArtifactTypes/VMImage/Offers/${s.offer}/Skus`)) });

export function listImageVersions(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const [sku] = matching(req.params);
  return { status: 200, body: ctx.marketplace.versions(sku!).map((v) => entry(req.params, v, `ArtifactTypes/VMImage/Offers/${sku!.offer}/Skus/${sku!.sku}/Versions`)) };
}

export function getImageVersion(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const [sku] = matching(req.params);
  const version = ctx.marketplace.versions(sku!).find((v) => v === req.params.version);
  if (!version) throw errors.vmImageArtifactNotFound();
  return {
    status: 200,
    body: {
      ...entry(req.params, version, `ArtifactTypes/VMImage/Offers/${sku!.offer}/Skus/${sku!.sku}/Versions`),
      properties: {
        osDiskImage: { operatingSystem: sku!.osType, sizeInGb: sku!.osDiskSizeGB },
        dataDiskImages: [],
        hyperVGeneration: sku!.hyperVGeneration,
        architecture: 'x64',
        automaticOSUpgradeProperties: { automaticOSUpgradeSupported: false },
        ...(sku!.plan ? { plan: sku!.plan } : {}),
      },
    },
  };
}

/** The route table: each operation's function, given the context (whose catalogue holds the published versions). */
export function marketplaceRoutes(ctx: HandlerContext): Route[] {
  const on = withContext(ctx);
  return [
    { method: 'GET', pattern: BASE, operation: 'virtualMachineImages.listPublishers', api: 'compute', handler: on(listPublishers) },
    { method: 'GET', pattern: `${BASE}/{publisher}/artifacttypes/vmimage/offers`, operation: 'virtualMachineImages.listOffers', api: 'compute', handler: on(listOffers) },
    { method: 'GET', pattern: `${BASE}/{publisher}/artifacttypes/vmimage/offers/{offer}/skus`, operation: 'virtualMachineImages.listSkus', api: 'compute', handler: on(listSkus) },
    { method: 'GET', pattern: `${BASE}/{publisher}/artifacttypes/vmimage/offers/{offer}/skus/{sku}/versions`, operation: 'virtualMachineImages.list', api: 'compute', handler: on(listImageVersions) },
    { method: 'GET', pattern: `${BASE}/{publisher}/artifacttypes/vmimage/offers/{offer}/skus/{sku}/versions/{version}`, operation: 'virtualMachineImages.get', api: 'compute', handler: on(getImageVersion) },
  ];
}
