/** Generic resources by id for the network pieces a staging VM needs: virtual networks with subnets, and NSGs. */
import { randomUUID } from 'node:crypto';
import { beginOperation, stepAfter, type HandlerContext } from '../context.ts';
import { errors } from '../errors.ts';
import type { ArmRequest, ArmResponse } from '../http.ts';
import { acceptedWrite } from '../lro.ts';
import { present, providerId, type StoredResource } from '../resources.ts';
import { deleteHandler, deleteTree } from '../release.ts';
import type { Route } from '../routes.ts';
import { checkSecurityRules, checkSubnetRange, vnetPrefixes } from './network-rules.ts';
import { arrayAt, bodyObject, isObject, objectAt, requiredLocation, requiredString, tagsOf, validateName, type Json } from '../validate.ts';

const PROVIDER = 'Microsoft.Network';
const GROUP = '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network';
const NETWORK_READY_EFFECT = 'network.ready';
const NETWORK_DELETE_EFFECT = 'network.delete';

const etag = (): string => `W/"${randomUUID()}"`;

export function networkRoutes(ctx: HandlerContext): Route[] {
  const { resources } = ctx;

  ctx.ops.registerEffect(NETWORK_READY_EFFECT, (args) => {
    for (const id of args.ids as string[]) {
      const resource = resources.find(id);
      if (resource) {
        resource.properties.provisioningState = 'Succeeded';
        resources.save(resource);
      }
    }
  });
  ctx.ops.registerEffect(NETWORK_DELETE_EFFECT, (args, op) => deleteTree(ctx, String(args.id), op.id));

  /** A virtual network as Azure shows it: its subnets inline. */
  const view = (resource: StoredResource): Json => {
    if (resource.type !== `${PROVIDER}/virtualNetworks`) return present(resource);
    const subnets = resources.below(resource.id).map((s) => ({ id: s.id, name: s.name, type: s.type, etag: s.extra?.etag, properties: s.properties }));
    return present(resource, { ...resource.properties, subnets });
  };

  /** A referenced NSG must exist in the VNet's region (Network answers InvalidResourceReference either way). */
  const checkNsgReference = (properties: Json, location: string | undefined, subnetId: string) => {
    const nsg = objectAt(properties, 'networkSecurityGroup', 'properties.networkSecurityGroup');
    const nsgId = nsg ? requiredString(nsg, 'id', 'properties.networkSecurityGroup.id') : undefined;
    if (nsgId && resources.find(nsgId)?.location !== location) throw errors.invalidResourceReference(nsgId, subnetId);
  };

  const subnetRecord = (vnet: StoredResource, name: string, properties: Json, provisioningState: string, siblings: Array<{ name: string; prefix: unknown }>): StoredResource => {
    validateName('network', name);
    requiredString(properties, 'addressPrefix', `properties.addressPrefix`);
    const id = `${vnet.id}/subnets/${name}`;
    checkSubnetRange({ id, name, prefix: properties.addressPrefix }, { name: vnet.name, prefixes: vnetPrefixes(vnet.properties, vnet.id) }, siblings);
    checkNsgReference(properties, vnet.location, id);
    const existing = resources.find(id);
    const record = existing ?? resources.create({ id, name, type: `${PROVIDER}/virtualNetworks/subnets`, resourceGroup: vnet.resourceGroup, properties: {}, tracked: false });
    record.properties = { ...properties, provisioningState };
    record.extra = { etag: etag() };
    return resources.save(record);
  };

  const put = (type: 'virtualNetworks' | 'networkSecurityGroups') => (req: ArmRequest): ArmResponse => {
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
      checkNsgReference(subnetProps, location, subnetId);
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
      ids.push(subnetRecord(resource, requiredString(entry, 'name', `properties.subnets[${i}].name`), objectAt(entry, 'properties', `properties.subnets[${i}].properties`) ?? {}, 'Updating', subnetPrefixes.slice(0, i)).id);
    });
    const op = beginOperation(ctx, req, { resourceId: id, location, style: 'network', markFailedOnFault: true, steps: [stepAfter(ctx, 'networkResourceCreate', { kind: NETWORK_READY_EFFECT, args: { ids } })] });
    return acceptedWrite(req.origin, op, !existing, view(resource));
  };

  const putSubnet = (req: ArmRequest): ArmResponse => {
    const { sub, rg, vnet, name } = req.params as { sub: string; rg: string; vnet: string; name: string };
    const parent = resources.requireParent(sub, rg, providerId(sub, rg, PROVIDER, 'virtualNetworks', vnet));
    const existed = resources.find(`${parent.id}/subnets/${name}`) !== undefined;
    const siblings = resources.below(parent.id).map((s) => ({ name: s.name, prefix: s.properties.addressPrefix }));
    const subnet = subnetRecord(parent, name, objectAt(bodyObject(req.body), 'properties') ?? {}, 'Updating', siblings);
    const op = beginOperation(ctx, req, { resourceId: subnet.id, location: parent.location ?? 'eastus', style: 'network', steps: [stepAfter(ctx, 'networkResourceCreate', { kind: NETWORK_READY_EFFECT, args: { ids: [subnet.id] } })] });
    return acceptedWrite(req.origin, op, !existed, { id: subnet.id, name, type: subnet.type, etag: subnet.extra?.etag, properties: subnet.properties });
  };

  const get = (type: string, idOf: (p: Record<string, string>) => string, nameOf: (p: Record<string, string>) => string) => (req: ArmRequest): ArmResponse => {
    const resource = resources.require(req.params.sub!, req.params.rg!, idOf(req.params), `${PROVIDER}/${type}`, nameOf(req.params));
    return { status: 200, body: resource.location === undefined ? { id: resource.id, name: resource.name, type: resource.type, etag: resource.extra?.etag, properties: resource.properties } : view(resource) };
  };

  const head = (idOf: (p: Record<string, string>) => string) => (req: ArmRequest): ArmResponse => ({ status: resources.find(idOf(req.params)) ? 204 : 404 });

  const remove = (idOf: (p: Record<string, string>) => string) =>
    deleteHandler(ctx, { idOf, style: 'network', latency: 'networkResourceCreate', effect: NETWORK_DELETE_EFFECT });

  const routes: Route[] = [];
  for (const type of ['virtualNetworks', 'networkSecurityGroups'] as const) {
    const idOf = (p: Record<string, string>) => providerId(p.sub!, p.rg!, PROVIDER, type, p.name!);
    const pattern = `${GROUP}/${type}/{name}`;
    routes.push(
      { method: 'PUT', pattern, operation: `${type}.createOrUpdate`, api: 'network', handler: put(type) },
      { method: 'GET', pattern, operation: `${type}.get`, api: 'network', handler: get(type, idOf, (p) => p.name!) },
      { method: 'HEAD', pattern, operation: `${type}.checkExistence`, api: 'network', handler: head(idOf) },
      { method: 'DELETE', pattern, operation: `${type}.delete`, api: 'network', handler: remove(idOf) },
    );
  }
  const subnetId = (p: Record<string, string>) => `${providerId(p.sub!, p.rg!, PROVIDER, 'virtualNetworks', p.vnet!)}/subnets/${p.name}`;
  const subnetPattern = `${GROUP}/virtualNetworks/{vnet}/subnets/{name}`;
  routes.push(
    { method: 'PUT', pattern: subnetPattern, operation: 'subnets.createOrUpdate', api: 'network', handler: putSubnet },
    { method: 'GET', pattern: subnetPattern, operation: 'subnets.get', api: 'network', handler: get('virtualNetworks/subnets', subnetId, (p) => `${p.vnet}/${p.name}`) },
    { method: 'HEAD', pattern: subnetPattern, operation: 'subnets.checkExistence', api: 'network', handler: head(subnetId) },
    { method: 'DELETE', pattern: subnetPattern, operation: 'subnets.delete', api: 'network', handler: remove(subnetId) },
  );
  return routes;
}
