/**
 * Azure Compute Gallery: galleries, image definitions and image versions. A version captures its source (a
 * generalized VM or a managed image) and replicates to its target regions over time.
 */
import { errors } from '../errors.ts';
import { beginOperation, stepAfter, withContext, type HandlerContext } from '../context.ts';
import type { ArmRequest, ArmResponse } from '../http.ts';
import { acceptedWrite, type EffectResult } from '../lro.ts';
import { present, providerId, type StoredResource } from '../resources.ts';
import type { Route } from '../routes.ts';
import { arrayAt, bodyObject, isObject, objectAt, parseVersionName, requiredLocation, requiredString, stringAt, tagsOf, validateName, type Json } from '../validate.ts';
import { deleteHandler, registerDeleteEffect } from '../release.ts';
import { checkLocation, displayName } from '../regions.ts';
import { generalizedSourceVm, snapshotFor } from './images.ts';
import { planReplication, replicationSummary, type RegionPlan } from './replication.ts';
import { checkCaptureSecurity, checkDefinitionSecurity } from './securityTypes.ts';
import { vmState } from './virtualMachines.ts';

const GALLERY_TYPE = 'Microsoft.Compute/galleries';
const DEFINITION_TYPE = 'Microsoft.Compute/galleries/images';
const VERSION_TYPE = 'Microsoft.Compute/galleries/images/versions';
const GALLERY = '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/galleries/{gallery}';
const DEFINITION = `${GALLERY}/images/{image}`;
const VERSION = `${DEFINITION}/versions/{version}`;

const EFFECT_READY = 'gallery.ready';
const EFFECT_CAPTURE = 'galleryVersion.capture';
const EFFECT_DELETE = 'gallery.delete';

const STORAGE_TYPES = ['Standard_LRS', 'Standard_ZRS', 'Premium_LRS'];

const galleryId = (p: Record<string, string>): string => providerId(p.sub!, p.rg!, 'Microsoft.Compute', 'galleries', p.gallery!);
const definitionId = (p: Record<string, string>): string => `${galleryId(p)}/images/${p.image}`;
const versionId = (p: Record<string, string>): string => `${definitionId(p)}/versions/${p.version}`;

/** A gallery resource's write completes. */
function markReady(ctx: HandlerContext, args: Json): void {
  const resource = ctx.resources.find(String(args.id));
  if (!resource) return;
  resource.properties.provisioningState = 'Succeeded';
  ctx.resources.save(resource);
}

/** A version takes its snapshot: the managed image's, or one of the source VM's OS disk. */
async function captureVersion(ctx: HandlerContext, args: Json): Promise<EffectResult> {
  const version = ctx.resources.find(String(args.id));
  if (!version) return { fail: errors.deletedWhileCreating('gallery image version', String(args.id)) };
  const source = ctx.resources.find(String(args.sourceId));
  if (!source) return { fail: errors.goneDuringOperation('source', String(args.sourceId)) };
  const disk = vmState(source).disk;
  if (source.type === 'Microsoft.Compute/images') {
    version.state.snapshot = source.state.snapshot;
    ctx.resources.save(version);
    return undefined;
  }
  if (!disk) return { fail: errors.goneDuringOperation('source VM (or its OS disk)', source.id) };
  // The fresh copy: a retried PUT meanwhile updated the publishing profile.
  const taken = await snapshotFor(ctx, version.id, 'gallery image version', disk);
  if ('fail' in taken) return taken;
  ctx.resources.save(taken);
  return undefined;
}

/** Deleting a parent that still holds children is refused, as in Azure. */
function refuseNested(ctx: HandlerContext, resource: StoredResource, childType: string): void {
  if (ctx.resources.below(resource.id).some((r) => r.type === childType)) {
    throw errors.cannotDeleteNested(resource.name);
  }
}

/** DELETE of a gallery resource; one that still holds `childType` children is refused. */
function deleteGalleryResource(ctx: HandlerContext, req: ArmRequest, idOf: (p: Record<string, string>) => string, childType?: string): ArmResponse {
  return deleteHandler(ctx, { idOf, style: 'gallery', latency: 'managedImageCreate', effect: EFFECT_DELETE, refuse: childType ? (resource) => refuseNested(ctx, resource, childType) : undefined })(req);
}

// ---- galleries ----
export function createOrUpdateGallery(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const { sub, rg, gallery: name } = req.params as { sub: string; rg: string; gallery: string };
  validateName('gallery', name);
  ctx.resources.requireGroup(sub, rg);
  const body = bodyObject(req.body);
  const location = requiredLocation(body, GALLERY_TYPE);
  const properties = objectAt(body, 'properties') ?? {};
  const id = galleryId(req.params);
  const existing = ctx.resources.find(id);
  const gallery = existing ?? ctx.resources.create({ id, name, type: GALLERY_TYPE, resourceGroup: rg, location, properties: {} });
  gallery.tags = tagsOf(body) ?? gallery.tags;
  gallery.properties = { description: stringAt(properties, 'description', 'properties.description'), identifier: { uniqueName: `${sub}-${name.toUpperCase()}` }, provisioningState: existing ? 'Updating' : 'Creating' };
  ctx.resources.save(gallery);
  const op = beginOperation(ctx, req, { resourceId: id, location, style: 'gallery', markFailedOnFault: true, steps: [stepAfter(ctx, 'networkResourceCreate', { kind: EFFECT_READY, args: { id } })] });
  return acceptedWrite(req.origin, op, !existing, present(gallery));
}

// ---- image definitions ----
export function createOrUpdateGalleryImage(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const { sub, rg, image: name } = req.params as { sub: string; rg: string; image: string };
  validateName('galleryImage', name);
  const gallery = ctx.resources.requireParent(sub, rg, galleryId(req.params));
  const body = bodyObject(req.body);
  const location = requiredLocation(body, DEFINITION_TYPE);
  const properties = objectAt(body, 'properties') ?? {};
  const osType = requiredString(properties, 'osType', 'properties.osType');
  const osState = requiredString(properties, 'osState', 'properties.osState');
  if (!['Linux', 'Windows'].includes(osType)) throw errors.invalidParameter('properties.osType', `osType must be Linux or Windows, found '${osType}'.`);
  if (!['Generalized', 'Specialized'].includes(osState)) throw errors.invalidParameter('properties.osState', `osState must be Generalized or Specialized, found '${osState}'.`);
  const identifier = objectAt(properties, 'identifier', 'properties.identifier');
  if (!identifier) throw errors.requiredParameterMissing('properties.identifier');
  for (const field of ['publisher', 'offer', 'sku']) requiredString(identifier, field, `properties.identifier.${field}`);
  const id = definitionId(req.params);
  const existing = ctx.resources.find(id);
  if (existing) {
    for (const field of ['osType', 'osState', 'hyperVGeneration'] as const) {
      if (properties[field] !== undefined && existing.properties[field] !== undefined && properties[field] !== existing.properties[field]) {
        throw errors.propertyChangeNotAllowed(field, String(existing.properties[field]));
      }
    }
  }
  if (gallery.location && gallery.location !== location) throw errors.regionMismatch('location', 'gallery image definition', location, `gallery '${gallery.name}'`, gallery.location);
  checkDefinitionSecurity({ ...properties, hyperVGeneration: properties.hyperVGeneration ?? existing?.properties.hyperVGeneration ?? 'V1' });
  const definition = existing ?? ctx.resources.create({ id, name, type: DEFINITION_TYPE, resourceGroup: gallery.resourceGroup, location, properties: {} });
  definition.tags = tagsOf(body) ?? definition.tags;
  definition.properties = { hyperVGeneration: 'V1', architecture: 'x64', ...properties, provisioningState: existing ? 'Updating' : 'Creating' };
  ctx.resources.save(definition);
  const op = beginOperation(ctx, req, { resourceId: id, location, style: 'gallery', markFailedOnFault: true, steps: [stepAfter(ctx, 'networkResourceCreate', { kind: EFFECT_READY, args: { id } })] });
  return acceptedWrite(req.origin, op, !existing, present(definition));
}

// ---- image versions ----
/** Azure names target regions and replication regions by display name ("East US"), unlike `location`. */
function presentVersion(version: StoredResource, expandReplication: boolean): Json {
  const publishing = version.properties.publishingProfile as Json | undefined;
  const targetRegions = Array.isArray(publishing?.targetRegions) ? (publishing.targetRegions as Json[]).map((r) => ({ ...r, name: displayName(String(r.name)) })) : undefined;
  const properties: Json = { ...version.properties, ...(publishing ? { publishingProfile: { ...publishing, ...(targetRegions ? { targetRegions } : {}) } } : {}) };
  if (expandReplication) {
    const status = replicationSummary(version, Date.now());
    properties.replicationStatus = { ...status, summary: status.summary.map((r) => ({ ...r, region: displayName(r.region) })) };
  }
  return present(version, properties);
}

/** The version's source: a VM id (`virtualMachineId`, or `id` naming a VM) or a managed image id. */
function sourceOf(storage: Json | undefined): string {
  const source = storage ? objectAt(storage, 'source', 'properties.storageProfile.source') : undefined;
  const id = source ? (stringAt(source, 'virtualMachineId', 'properties.storageProfile.source.virtualMachineId') ?? stringAt(source, 'id', 'properties.storageProfile.source.id')) : undefined;
  if (!id) throw errors.invalidParameter('properties.storageProfile.source', "Required parameter 'properties.storageProfile.source' is missing: expected virtualMachineId or id.");
  return id;
}

function targetRegionsOf(publishing: Json, location: string): { name: string; regionalReplicaCount: number; storageAccountType: string; excludeFromLatest?: boolean }[] {
  const list = arrayAt(publishing, 'targetRegions', 'properties.publishingProfile.targetRegions') ?? [{ name: location }];
  const regions = list.map((entry, i) => {
    const path = `properties.publishingProfile.targetRegions[${i}]`;
    if (!isObject(entry)) throw errors.invalidParameter(path, `${path} must be an object with a name.`);
    const name = checkLocation(requiredString(entry, 'name', `${path}.name`), VERSION_TYPE, `${path}.name`);
    const count = entry.regionalReplicaCount ?? publishing.replicaCount ?? 1;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 100) throw errors.invalidParameter(`${path}.regionalReplicaCount`, `regionalReplicaCount must be an integer from 1 to 100, found ${JSON.stringify(count)}.`);
    const storageAccountType = (entry.storageAccountType ?? publishing.storageAccountType ?? 'Standard_LRS') as string;
    if (!STORAGE_TYPES.includes(storageAccountType)) throw errors.invalidParameter(`${path}.storageAccountType`, `storageAccountType must be one of ${STORAGE_TYPES.join(', ')}, found '${storageAccountType}'.`);
    return { ...entry, name, regionalReplicaCount: count, storageAccountType };
  });
  if (!regions.some((r) => r.name === location)) {
    throw errors.invalidParameter('properties.publishingProfile.targetRegions', `The target regions must include the location of the image version ('${location}'), found ${regions.map((r) => r.name).join(', ')}.`);
  }
  return regions;
}

export function createOrUpdateGalleryImageVersion(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const { sub, rg, version: name } = req.params as { sub: string; rg: string; version: string };
  parseVersionName(name);
  const definition = ctx.resources.requireParent(sub, rg, definitionId(req.params));
  const body = bodyObject(req.body);
  const location = requiredLocation(body, VERSION_TYPE);
  const properties = objectAt(body, 'properties') ?? {};
  const storage = objectAt(properties, 'storageProfile', 'properties.storageProfile');
  const sourceId = sourceOf(storage);
  const publishing = objectAt(properties, 'publishingProfile', 'properties.publishingProfile') ?? {};
  if (definition.location && definition.location !== location) throw errors.regionMismatch('location', 'gallery image version', location, `its gallery image definition '${definition.name}'`, definition.location);
  const targetRegions = targetRegionsOf(publishing, location);
  const id = versionId(req.params);
  const existing = ctx.resources.find(id);
  if (existing) {
    // Re-sending the same version (a retried step) updates its publishing profile; anything else is a duplicate.
    const sameSource = String(existing.state.sourceId).toLowerCase() === sourceId.toLowerCase();
    if (!sameSource || existing.properties.provisioningState === 'Failed') {
      throw errors.conflict(`The gallery image version '${name}' already exists in '${definition.name}' with another source or a failed state; versions are immutable. Use a new version number.`);
    }
    existing.properties.publishingProfile = { ...(existing.properties.publishingProfile as Json), ...publishing, targetRegions };
    existing.tags = tagsOf(body) ?? existing.tags;
    const known = new Set((existing.state.replication as RegionPlan[]).map((p) => p.region));
    const added = planReplication(ctx.latency, location, targetRegions.filter((r) => !known.has(r.name)), Date.now());
    existing.state.replication = [...(existing.state.replication as RegionPlan[]).filter((p) => targetRegions.some((r) => r.name === p.region)), ...added];
    ctx.resources.save(existing);
    const op = beginOperation(ctx, req, { resourceId: id, location, style: 'gallery', steps: [{ at: Math.max(Date.now(), ...added.map((p) => p.endAt)), effect: { kind: EFFECT_READY, args: { id } } }] });
    return acceptedWrite(req.origin, op, false, presentVersion(existing, false));
  }

  const source = ctx.resources.find(sourceId);
  if (!source) throw errors.galleryVersionSourceNotFound(sourceId);
  const osState = definition.properties.osState;
  if (source.type === 'Microsoft.Compute/virtualMachines') {
    if (osState === 'Generalized') generalizedSourceVm(ctx, sourceId, 'Create Gallery Image Version');
    else if (vmState(source).generalized) {
      throw errors.operationNotAllowed(`Cannot create Gallery Image Version from '${sourceId}' since the OS State in the parent gallery image (Specialized) is not Generalized.`);
    }
  } else if (source.type === 'Microsoft.Compute/images') {
    if (osState !== 'Generalized') throw errors.operationNotAllowed(`Cannot create Gallery Image Version from '${sourceId}' since the OS State in the parent gallery image (${String(osState)}) is not Generalized.`);
    if (source.properties.provisioningState !== 'Succeeded') throw errors.conflict(`The managed image '${source.name}' is still being created.`);
  } else {
    throw errors.invalidParameter('properties.storageProfile.source', `The source '${sourceId}' is not a VM or a managed image.`);
  }
  checkSourceFits(source, definition, location);

  const now = Date.now();
  const replication = planReplication(ctx.latency, location, targetRegions, now);
  const version = ctx.resources.create({
    id, name, type: VERSION_TYPE, resourceGroup: definition.resourceGroup, location, tags: tagsOf(body),
    properties: {
      publishingProfile: { replicaCount: 1, excludeFromLatest: false, ...publishing, targetRegions, publishedDate: new Date(now).toISOString(), storageAccountType: publishing.storageAccountType ?? 'Standard_LRS' },
      storageProfile: { source: source.type === 'Microsoft.Compute/images' ? { id: sourceId } : { virtualMachineId: sourceId }, osDiskImage: { sizeInGB: 30, hostCaching: 'ReadWrite' } },
      ...(objectAt(properties, 'safetyProfile') ? { safetyProfile: properties.safetyProfile } : {}),
      provisioningState: 'Creating',
    },
    state: { sourceId, replication },
  });
  const op = beginOperation(ctx, req, {
    resourceId: id, location, style: 'gallery', markFailedOnFault: true,
    steps: [
      { at: now, effect: { kind: EFFECT_CAPTURE, args: { id, sourceId } } },
      { at: Math.max(now, ...replication.map((p) => p.endAt)), effect: { kind: EFFECT_READY, args: { id } } },
    ],
  });
  return acceptedWrite(req.origin, op, true, presentVersion(version, false));
}

function requireNested(ctx: HandlerContext, req: ArmRequest, idOf: (p: Record<string, string>) => string, what: string): StoredResource {
  return ctx.resources.requireChild(req.params.sub!, req.params.rg!, idOf(req.params), `${what} '${idOf(req.params).split('/').pop()}'`);
}

function listBelow(ctx: HandlerContext, req: ArmRequest, parentIdOf: (p: Record<string, string>) => string, childType: string, what: string, view: (r: StoredResource) => Json): ArmResponse {
  const parent = ctx.resources.requireChild(req.params.sub!, req.params.rg!, parentIdOf(req.params), what);
  return { status: 200, body: { value: ctx.resources.below(parent.id).filter((r) => r.type === childType).map(view), nextLink: null } };
}

export const getGallery = (ctx: HandlerContext, req: ArmRequest): ArmResponse =>
  ({ status: 200, body: present(ctx.resources.require(req.params.sub!, req.params.rg!, galleryId(req.params), GALLERY_TYPE, req.params.gallery!)) });
export const deleteGallery = (ctx: HandlerContext, req: ArmRequest): ArmResponse => deleteGalleryResource(ctx, req, galleryId, DEFINITION_TYPE);
export const getGalleryImage = (ctx: HandlerContext, req: ArmRequest): ArmResponse => ({ status: 200, body: present(requireNested(ctx, req, definitionId, 'gallery image')) });
export const deleteGalleryImage = (ctx: HandlerContext, req: ArmRequest): ArmResponse => deleteGalleryResource(ctx, req, definitionId, VERSION_TYPE);
export const listGalleryImages = (ctx: HandlerContext, req: ArmRequest): ArmResponse => listBelow(ctx, req, galleryId, DEFINITION_TYPE, 'gallery', (r) => present(r));
export const getGalleryImageVersion = (ctx: HandlerContext, req: ArmRequest): ArmResponse =>
  ({ status: 200, body: presentVersion(requireNested(ctx, req, versionId, 'gallery image version'), (req.query.get('$expand') ?? '').toLowerCase() === 'replicationstatus') });
export const deleteGalleryImageVersion = (ctx: HandlerContext, req: ArmRequest): ArmResponse => deleteGalleryResource(ctx, req, versionId);
export const listGalleryImageVersions = (ctx: HandlerContext, req: ArmRequest): ArmResponse => listBelow(ctx, req, definitionId, VERSION_TYPE, 'gallery image', (r) => presentVersion(r, false));

/** The effects gallery operations apply when their time comes (also after an emulator restart). */
export function registerGalleryEffects(ctx: HandlerContext): void {
  ctx.ops.registerEffect(EFFECT_READY, (args) => markReady(ctx, args));
  ctx.ops.registerEffect(EFFECT_CAPTURE, (args) => captureVersion(ctx, args));
  registerDeleteEffect(ctx, EFFECT_DELETE);
}

/** The route table: each operation's function, given the context. */
export function galleryRoutes(ctx: HandlerContext): Route[] {
  registerGalleryEffects(ctx);
  const on = withContext(ctx);
  return [
    { method: 'PUT', pattern: GALLERY, operation: 'galleries.createOrUpdate', api: 'gallery', handler: on(createOrUpdateGallery) },
    { method: 'GET', pattern: GALLERY, operation: 'galleries.get', api: 'gallery', handler: on(getGallery) },
    { method: 'DELETE', pattern: GALLERY, operation: 'galleries.delete', api: 'gallery', handler: on(deleteGallery) },
    { method: 'PUT', pattern: DEFINITION, operation: 'galleryImages.createOrUpdate', api: 'gallery', handler: on(createOrUpdateGalleryImage) },
    { method: 'GET', pattern: DEFINITION, operation: 'galleryImages.get', api: 'gallery', handler: on(getGalleryImage) },
    { method: 'DELETE', pattern: DEFINITION, operation: 'galleryImages.delete', api: 'gallery', handler: on(deleteGalleryImage) },
    { method: 'GET', pattern: `${GALLERY}/images`, operation: 'galleryImages.listByGallery', api: 'gallery', handler: on(listGalleryImages) },
    { method: 'PUT', pattern: VERSION, operation: 'galleryImageVersions.createOrUpdate', api: 'gallery', handler: on(createOrUpdateGalleryImageVersion) },
    { method: 'GET', pattern: VERSION, operation: 'galleryImageVersions.get', api: 'gallery', handler: on(getGalleryImageVersion) },
    { method: 'DELETE', pattern: VERSION, operation: 'galleryImageVersions.delete', api: 'gallery', handler: on(deleteGalleryImageVersion) },
    { method: 'GET', pattern: `${DEFINITION}/versions`, operation: 'galleryImageVersions.listByGalleryImage', api: 'gallery', handler: on(listGalleryImageVersions) },
  ];
}

/** A version's source must be in the version's region and have the definition's OS type and Hyper-V generation. */
function checkSourceFits(source: StoredResource, definition: StoredResource, location: string): void {
  const target = 'properties.storageProfile.source';
  if (source.location && source.location !== location) throw errors.regionMismatch(target, `source '${source.name}'`, source.location, 'the gallery image version', location);
  const facts = source.type === 'Microsoft.Compute/images'
    ? { osType: String(((source.properties.storageProfile as Json).osDisk as Json | undefined)?.osType ?? 'Linux'), generation: String(source.properties.hyperVGeneration ?? 'V1') }
    : { osType: vmState(source).osType, generation: vmState(source).hyperVGeneration ?? 'V1' };
  const owner = `gallery image definition '${definition.name}'`;
  if (facts.osType !== definition.properties.osType) throw errors.propertyMismatch(target, 'OS type', facts.osType, String(definition.properties.osType), owner);
  if (facts.generation !== String(definition.properties.hyperVGeneration ?? 'V1')) throw errors.propertyMismatch(target, 'Hyper-V generation', facts.generation, String(definition.properties.hyperVGeneration), owner);
  // A managed image is always Standard (none is made from a Trusted Launch VM).
  checkCaptureSecurity(source.type === 'Microsoft.Compute/images' ? 'Standard' : (vmState(source).securityType ?? 'Standard'), definition);
}
