/** Generic resources by id for the network pieces a staging VM needs: virtual networks with subnets, and NSGs. */
import { randomUUID } from 'node:crypto';
import { beginOperation, stepAfter, withContext, type HandlerContext, type OperationHandler } from '../context.ts';
import { errors } from '../errors.ts';
import type { ArmRequest, ArmResponse } from '../http.ts';
import { acceptedWrite } from '../lro.ts';
import { present, providerId, type StoredResource } from '../resources.ts';
import { deleteHandler, registerDeleteEffect } from '../release.ts';
import type { Route } from '../routes.ts';
import { checkNsgReference, checkSecurityRules, checkSubnetRange, vnetPrefixes } from './network-rules.ts';
import { NIC_TYPE, refuseSubnetInUse } from './networkInterfaces.ts';
import { arrayAt, bodyObject, isObject, objectAt, requiredLocation, requiredString, tagsOf, validateName, type Json } from '../validate.ts';

const PROVIDER = 'Microsoft.Network';
const GROUP = '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network';
const NETWORK_READY_EFFECT = 'network.ready';
const NETWORK_DELETE_EFFECT = 'network.delete';

const etag = (): string => `W/"${randomUUID()}"`;

type IdOf = (params: Record<string, string>) => string;
const vnetId: IdOf = (p) => providerId(p.sub!, p.rg!, PROVIDER, 'virtualNetworks', p.name!);
const nsgId: IdOf = (p) => providerId(p.sub!, p.rg!, PROVIDER, 'networkSecurityGroups', p.name!);
const subnetId: IdOf = (p) => `${providerId(p.sub!, p.rg!, PROVIDER, 'virtualNetworks', p.vnet!)}/subnets/${p.name}`;

/** A virtual network as Azure shows it: its subnets inline. */
function view(ctx: HandlerContext, resource: StoredResource): Json {
  if (resource.type !== `${PROVIDER}/virtualNetworks`) return present(resource);
  const subnets = ctx.resources.below(resource.id).map((s) => ({ id: s.id, name: s.name, type: s.type, etag: s.extra?.etag, properties: s.properties }));
  return present(resource, { ...resource.properties, subnets });
}

function subnetRecord(ctx: HandlerContext, vnet: StoredResource, name: string, properties: Json, provisioningState: string, siblings: Array<{ name: string; prefix: unknown }>): StoredResource {
  validateName('network', name);
  requiredString(properties, 'addressPrefix', `properties.addressPrefix`);
  const id = `${vnet.id}/subnets/${name}`;
  checkSubnetRange({ id, name, prefix: properties.addressPrefix }, { name: vnet.name, prefixes: vnetPrefixes(vnet.properties, vnet.id) }, siblings);
  checkNsgReference(ctx, properties, vnet.location, id);
  const existing = ctx.resources.find(id);
  const record = existing ?? ctx.resources.create({ id, name, type: `${PROVIDER}/virtualNetworks/subnets`, resourceGroup: vnet.resourceGroup, properties: {}, tracked: false });
  record.properties = { ...properties, provisioningState };
  record.extra = { etag: etag() };
  return ctx.resources.save(record);
}

/** PUT of a VNet (with inline subnets) or an NSG (with its security rules): every check before anything is stored. */
function putNetworkResource(ctx: HandlerContext, req: ArmRequest, type: 'virtualNetworks' | 'networkSecurityGroups'): ArmResponse {
  const { resources } = ctx;
  const { sub, rg, name } = req.params as { sub: string; rg: string; name: string };
  validateName('network', name);
  resources.requireGroup(sub, rg);
  const body = bodyObject(req.body);
  const location = requiredLocation(body, `${PROVIDER}/${type}`);
  const properties = { ...(objectAt(body, 'properties') ?? {}) };
  const id = providerId(sub, rg, PROVIDER, type, name);
  const existing = resources.find(id);
  const subnets = type === 'virtualNetworks' ? (arrayAt(properties, 'subnets', 'properties.subnets') ?? []) : [];
  delete properties.subnets;
  if (type === 'virtualNetworks') {
    const space = objectAt(properties, 'addressSpace', 'properties.addressSpace');
    if (!space || !arrayAt(space, 'addressPrefixes', 'properties.addressSpace.addressPrefixes')?.length) {
      throw errors.invalidParameter('properties.addressSpace.addressPrefixes', 'Required parameter \'properties.addressSpace.addressPrefixes\' is missing: expected at least one address prefix such as 10.0.0.0/16.');
    }
    vnetPrefixes(properties, id);
  } else {
    checkSecurityRules(arrayAt(properties, 'securityRules', 'properties.securityRules') ?? [], id);
  }
  // Every subnet is checked before anything is stored: a refused request changes nothing.
  const subnetPrefixes = subnets.map((entry, i) => ({
    name: isObject(entry) && typeof entry.name === 'string' ? entry.name : `#${i}`,
    prefix: isObject(entry) && isObject(entry.properties) ? entry.properties.addressPrefix : undefined,
  }));
  subnets.forEach((entry, i) => {
    if (!isObject(entry)) throw errors.invalidParameter(`properties.subnets[${i}]`, `Subnet ${i} must be an object.`);
    const subnetProps = objectAt(entry, 'properties', `properties.subnets[${i}].properties`) ?? {};
    const subnetId = `${id}/subnets/${requiredString(entry, 'name', `properties.subnets[${i}].name`)}`;
    checkSubnetRange({ id: subnetId, name: String(entry.name), prefix: requiredString(subnetProps, 'addressPrefix', `properties.subnets[${i}].properties.addressPrefix`) }, { name, prefixes: vnetPrefixes(properties, id) }, subnetPrefixes.slice(0, i));
    checkNsgReference(ctx, subnetProps, location, subnetId);
  });
  const resource = existing ?? resources.create({ id, name, type: `${PROVIDER}/${type}`, resourceGroup: rg, location, properties: {} });
  resource.location = location;
  resource.tags = tagsOf(body);
  resource.properties = { ...properties, provisioningState: 'Updating', resourceGuid: existing?.properties.resourceGuid ?? randomUUID() };
  resource.extra = { etag: etag() };
  resources.save(resource);
  const ids = [id];
  subnets.forEach((entry, i) => {
    if (!isObject(entry)) throw errors.invalidParameter(`properties.subnets[${i}]`, `Subnet ${i} must be an object.`);
    ids.push(subnetRecord(ctx, resource, requiredString(entry, 'name', `properties.subnets[${i}].name`), objectAt(entry, 'properties', `properties.subnets[${i}].properties`) ?? {}, 'Updating', subnetPrefixes.slice(0, i)).id);
  });
  const op = beginOperation(ctx, req, { resourceId: id, location, style: 'network', markFailedOnFault: true, steps: [stepAfter(ctx, 'networkResourceCreate', { kind: NETWORK_READY_EFFECT, args: { ids } })] });
  return acceptedWrite(req.origin, op, !existing, view(ctx, resource));
}

/** A GET by id: located resources with their view, a subnet (no location) as Network shows a child. */
function getNetworkResource(ctx: HandlerContext, req: ArmRequest, type: string, idOf: IdOf, name: string): ArmResponse {
  const resource = ctx.resources.require(req.params.sub!, req.params.rg!, idOf(req.params), `${PROVIDER}/${type}`, name);
  return { status: 200, body: resource.location === undefined ? { id: resource.id, name: resource.name, type: resource.type, etag: resource.extra?.etag, properties: resource.properties } : view(ctx, resource) };
}

const checkNetworkResourceExistence = (ctx: HandlerContext, req: ArmRequest, idOf: IdOf): ArmResponse => ({ status: ctx.resources.find(idOf(req.params)) ? 204 : 404 });

/** An NSG that a subnet or a NIC names cannot be deleted; the error lists every one. */
function refuseNsgInUse(ctx: HandlerContext, nsg: StoredResource): void {
  const nsgId = nsg.id.toLowerCase();
  const users = ctx.resources.inSubscriptionOf(nsg.id)
    .filter((r) => r.type === `${PROVIDER}/virtualNetworks/subnets` || r.type === NIC_TYPE)
    .filter((r) => {
      const named = r.properties.networkSecurityGroup;
      return isObject(named) && typeof named.id === 'string' && named.id.toLowerCase() === nsgId;
    })
    .map((r) => r.id);
  if (users.length > 0) throw errors.nsgInUse(nsg.id, users);
}

/** A DELETE; `refuse` may throw to keep the resource (a VNet or subnet with NICs in it, an NSG in use). */
const deleteNetworkResource = (ctx: HandlerContext, req: ArmRequest, idOf: IdOf, refuse?: (resource: StoredResource) => void): ArmResponse =>
  deleteHandler(ctx, { idOf, style: 'network', latency: 'networkResourceCreate', effect: NETWORK_DELETE_EFFECT, ...(refuse ? { refuse } : {}) })(req);

export const createOrUpdateVirtualNetwork = (ctx: HandlerContext, req: ArmRequest): ArmResponse => putNetworkResource(ctx, req, 'virtualNetworks');
export const getVirtualNetwork = (ctx: HandlerContext, req: ArmRequest): ArmResponse => getNetworkResource(ctx, req, 'virtualNetworks', vnetId, req.params.name!);
export const checkVirtualNetworkExistence = (ctx: HandlerContext, req: ArmRequest): ArmResponse => checkNetworkResourceExistence(ctx, req, vnetId);
export const deleteVirtualNetwork = (ctx: HandlerContext, req: ArmRequest): ArmResponse => deleteNetworkResource(ctx, req, vnetId, (vnet) => refuseSubnetInUse(ctx, vnet));

export const createOrUpdateNetworkSecurityGroup = (ctx: HandlerContext, req: ArmRequest): ArmResponse => putNetworkResource(ctx, req, 'networkSecurityGroups');
export const getNetworkSecurityGroup = (ctx: HandlerContext, req: ArmRequest): ArmResponse => getNetworkResource(ctx, req, 'networkSecurityGroups', nsgId, req.params.name!);
export const checkNetworkSecurityGroupExistence = (ctx: HandlerContext, req: ArmRequest): ArmResponse => checkNetworkResourceExistence(ctx, req, nsgId);
export const deleteNetworkSecurityGroup = (ctx: HandlerContext, req: ArmRequest): ArmResponse => deleteNetworkResource(ctx, req, nsgId, (nsg) => refuseNsgInUse(ctx, nsg));

export function createOrUpdateSubnet(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const { sub, rg, vnet, name } = req.params as { sub: string; rg: string; vnet: string; name: string };
  const parent = ctx.resources.requireParent(sub, rg, providerId(sub, rg, PROVIDER, 'virtualNetworks', vnet));
  const existed = ctx.resources.find(`${parent.id}/subnets/${name}`) !== undefined;
  const siblings = ctx.resources.below(parent.id).map((s) => ({ name: s.name, prefix: s.properties.addressPrefix }));
  const subnet = subnetRecord(ctx, parent, name, objectAt(bodyObject(req.body), 'properties') ?? {}, 'Updating', siblings);
  const op = beginOperation(ctx, req, { resourceId: subnet.id, location: parent.location ?? 'eastus', style: 'network', steps: [stepAfter(ctx, 'networkResourceCreate', { kind: NETWORK_READY_EFFECT, args: { ids: [subnet.id] } })] });
  return acceptedWrite(req.origin, op, !existed, { id: subnet.id, name, type: subnet.type, etag: subnet.extra?.etag, properties: subnet.properties });
}
export const getSubnet = (ctx: HandlerContext, req: ArmRequest): ArmResponse => getNetworkResource(ctx, req, 'virtualNetworks/subnets', subnetId, `${req.params.vnet}/${req.params.name}`);
export const checkSubnetExistence = (ctx: HandlerContext, req: ArmRequest): ArmResponse => checkNetworkResourceExistence(ctx, req, subnetId);
export const deleteSubnet = (ctx: HandlerContext, req: ArmRequest): ArmResponse => deleteNetworkResource(ctx, req, subnetId, (subnet) => refuseSubnetInUse(ctx, subnet));

/** The effects network operations apply when their time comes (also after an emulator restart). */
export function registerNetworkEffects(ctx: HandlerContext): void {
  ctx.ops.registerEffect(NETWORK_READY_EFFECT, (args) => {
    for (const id of args.ids as string[]) {
      const resource = ctx.resources.find(id);
      if (resource) {
        resource.properties.provisioningState = 'Succeeded';
        ctx.resources.save(resource);
      }
    }
  });
  registerDeleteEffect(ctx, NETWORK_DELETE_EFFECT);
}

/** A network resource type's four operations by id, as routes. */
function routesById(on: ReturnType<typeof withContext>, pattern: string, type: string, handlers: Record<'createOrUpdate' | 'get' | 'checkExistence' | 'delete', OperationHandler>): Route[] {
  const methods = [['PUT', 'createOrUpdate'], ['GET', 'get'], ['HEAD', 'checkExistence'], ['DELETE', 'delete']] as const;
  return methods.map(([method, name]) => ({ method, pattern, operation: `${type}.${name}`, api: 'network' as const, handler: on(handlers[name]) }));
}

/** The route table: each operation's function, given the context. */
export function networkRoutes(ctx: HandlerContext): Route[] {
  registerNetworkEffects(ctx);
  const on = withContext(ctx);
  return [
    ...routesById(on, `${GROUP}/virtualNetworks/{name}`, 'virtualNetworks', {
      createOrUpdate: createOrUpdateVirtualNetwork, get: getVirtualNetwork, checkExistence: checkVirtualNetworkExistence, delete: deleteVirtualNetwork,
    }),
    ...routesById(on, `${GROUP}/networkSecurityGroups/{name}`, 'networkSecurityGroups', {
      createOrUpdate: createOrUpdateNetworkSecurityGroup, get: getNetworkSecurityGroup, checkExistence: checkNetworkSecurityGroupExistence, delete: deleteNetworkSecurityGroup,
    }),
    ...routesById(on, `${GROUP}/virtualNetworks/{vnet}/subnets/{name}`, 'subnets', {
      createOrUpdate: createOrUpdateSubnet, get: getSubnet, checkExistence: checkSubnetExistence, delete: deleteSubnet,
    }),
  ];
}
