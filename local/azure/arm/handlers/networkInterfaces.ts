/**
 * NICs as resources of their own (`Microsoft.Network/networkInterfaces`), with Network's rules: a NIC's subnet exists
 * in its region, a NIC a VM holds cannot be deleted or given to another VM, a subnet with NICs in it cannot be deleted;
 * and what a VM create and delete do to its NICs (made from inline configurations, kept or deleted per deleteOption).
 */
import { randomUUID } from 'node:crypto';
import { beginOperation, stepAfter, withContext, type HandlerContext } from '../context.ts';
import { errors } from '../errors.ts';
import type { ArmRequest, ArmResponse } from '../http.ts';
import { acceptedWrite } from '../lro.ts';
import { present, providerId, type StoredResource } from '../resources.ts';
import { deleteHandler, deleteTree, registerDeleteEffect } from '../release.ts';
import type { Route } from '../routes.ts';
import { checkNsgReference } from './network-rules.ts';
import { arrayAt, bodyObject, isObject, objectAt, requiredLocation, tagsOf, validateName, type Json } from '../validate.ts';

export const NIC_TYPE = 'Microsoft.Network/networkInterfaces';
const GROUP = '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network';
const EFFECT_READY = 'nic.ready';
const EFFECT_DELETE = 'nic.delete';

const nicIdOf = (p: Record<string, string>): string => providerId(p.sub!, p.rg!, 'Microsoft.Network', 'networkInterfaces', p.name!);
const lower = (s: string): string => s.toLowerCase();

/**
 * The subnet id each of a NIC's IP configurations names (the wire form nests them under `properties`); one without a
 * subnet, or no configuration at all, is refused with the request's path to it (`path`: where the NIC's properties are).
 */
function subnetIds(properties: Json, nicName: string, path: string): string[] {
  const configs = arrayAt(properties, 'ipConfigurations', `${path}.ipConfigurations`) ?? [];
  if (configs.length === 0) throw errors.nicRequired(nicName, `${path}.ipConfigurations`);
  return configs.map((c, j) => {
    const nested = isObject(c) && isObject(c.properties);
    const props = isObject(c) ? (nested ? (c.properties as Json) : c) : {};
    if (!isObject(props.subnet) || typeof props.subnet.id !== 'string') throw errors.nicRequired(nicName, `${path}.ipConfigurations[${j}]${nested ? '.properties' : ''}.subnet`);
    return props.subnet.id;
  });
}

/**
 * Each IP configuration's subnet must be named, exist and its VNet be in the NIC's region (Network:
 * InvalidResourceReference). `path` is where the request holds the NIC's properties: a NIC's own, or a VM's inline one.
 */
export function checkNicSubnets(ctx: HandlerContext, nicId: string, location: string, properties: Json, path = 'properties'): void {
  for (const subnetId of subnetIds(properties, nicId.split('/').pop()!, path)) {
    const vnet = ctx.resources.find(subnetId.split('/').slice(0, -2).join('/'));
    if (!ctx.resources.find(subnetId) || lower(vnet?.location ?? '') !== lower(location)) throw errors.invalidResourceReference(subnetId, nicId);
  }
  checkNsgReference(ctx, properties, location, nicId);
}

/** The NIC's wire properties: IP configurations with ids and Azure's defaults. */
function nicProperties(nicId: string, properties: Json, vmId: string | undefined, existing?: StoredResource): Json {
  const configs = (arrayAt(properties, 'ipConfigurations', 'properties.ipConfigurations') ?? []).filter(isObject).map((c, i) => {
    const props = isObject(c.properties) ? c.properties : c;
    const name = typeof c.name === 'string' ? c.name : `ipconfig${i + 1}`;
    return {
      id: `${nicId}/ipConfigurations/${name}`, name, type: `${NIC_TYPE}/ipConfigurations`,
      properties: { privateIPAllocationMethod: 'Dynamic', privateIPAddressVersion: 'IPv4', primary: props.primary ?? i === 0, subnet: props.subnet, provisioningState: 'Succeeded' },
    };
  });
  return {
    ...(existing?.properties ?? {}),
    ...(isObject(properties.networkSecurityGroup) ? { networkSecurityGroup: properties.networkSecurityGroup } : {}),
    ipConfigurations: configs,
    nicType: 'Standard',
    resourceGuid: existing?.properties.resourceGuid ?? randomUUID(),
    ...(vmId ? { virtualMachine: { id: vmId } } : {}),
  };
}

/** The VM holding a NIC, if any. */
const holder = (nic: StoredResource): string | undefined =>
  isObject(nic.properties.virtualMachine) && typeof nic.properties.virtualMachine.id === 'string' ? nic.properties.virtualMachine.id : undefined;

/** A subnet (or a VNet, for any of its subnets) that NICs are in cannot be deleted. */
export function refuseSubnetInUse(ctx: HandlerContext, resource: StoredResource): void {
  const prefix = lower(resource.id);
  for (const nic of ctx.resources.inSubscriptionOf(resource.id)) {
    if (nic.type !== NIC_TYPE) continue;
    for (const config of (nic.properties.ipConfigurations as Json[] | undefined) ?? []) {
      const subnetId = String(((config.properties as Json | undefined)?.subnet as Json | undefined)?.id ?? '');
      if (lower(subnetId) === prefix || lower(subnetId).startsWith(`${prefix}/subnets/`)) {
        throw errors.subnetInUse(subnetId.split('/').pop()!, String(config.id));
      }
    }
  }
}

/**
 * A VM's network references, checked before anything is made: a referenced NIC exists in the VM's region, free or the
 * VM's own; an inline NIC configuration's subnets as a NIC's (checkNicSubnets), named by the NIC it makes.
 */
export function checkVmNics(ctx: HandlerContext, network: Json, location: string, vmId: string): void {
  for (const ref of (Array.isArray(network.networkInterfaces) ? network.networkInterfaces : []).filter(isObject)) {
    const nic = typeof ref.id === 'string' ? ctx.resources.find(ref.id) : undefined;
    if (!nic || nic.type !== NIC_TYPE || lower(nic.location ?? '') !== lower(location)) throw errors.invalidResourceReference(String(ref.id), vmId);
    const owner = holder(nic);
    if (owner && lower(owner) !== lower(vmId)) throw errors.nicInUse(nic.id, owner);
  }
  const configs = Array.isArray(network.networkInterfaceConfigurations) ? network.networkInterfaceConfigurations : [];
  for (const [i, config] of configs.entries()) {
    if (!isObject(config)) continue;
    const id = inlineNicId(vmId, String(config.name));
    // Named by the VM request's own field, not by the NIC the configuration becomes.
    const path = `properties.networkProfile.networkInterfaceConfigurations[${i}]${isObject(config.properties) ? '.properties' : ''}`;
    checkNicSubnets(ctx, id, location, isObject(config.properties) ? config.properties : config, path);
    const nic = ctx.resources.find(id);
    const owner = nic ? holder(nic) : undefined;
    if (owner && lower(owner) !== lower(vmId)) throw errors.nicInUse(nic!.id, owner);
  }
}

/** An inline NIC configuration becomes a NIC of that name in the VM's resource group, as on Azure. */
const inlineNicId = (vmId: string, name: string): string => `${vmId.split('/providers/')[0]}/providers/Microsoft.Network/networkInterfaces/${name}`;

/**
 * Attaches the VM's NICs (making the inline ones) and answers the `networkInterfaces` the VM model shows: each id with
 * its primary flag and deleteOption (Detach unless the request said Delete).
 */
export function attachVmNics(ctx: HandlerContext, network: Json, vm: { id: string; resourceGroup: string; location: string }): Json[] {
  const attached: Json[] = [];
  for (const ref of (Array.isArray(network.networkInterfaces) ? network.networkInterfaces : []).filter(isObject)) {
    const nic = ctx.resources.find(String(ref.id))!;
    nic.properties = { ...nic.properties, virtualMachine: { id: vm.id } };
    ctx.resources.save(nic);
    const props = isObject(ref.properties) ? ref.properties : ref;
    attached.push({ id: nic.id, properties: { primary: props.primary ?? attached.length === 0, deleteOption: props.deleteOption ?? 'Detach' } });
  }
  for (const config of (Array.isArray(network.networkInterfaceConfigurations) ? network.networkInterfaceConfigurations : []).filter(isObject)) {
    const props = isObject(config.properties) ? config.properties : config;
    const id = inlineNicId(vm.id, String(config.name));
    const existing = ctx.resources.find(id);
    const nic = existing ?? ctx.resources.create({ id, name: String(config.name), type: NIC_TYPE, resourceGroup: vm.resourceGroup, location: vm.location, properties: {} });
    nic.properties = { ...nicProperties(id, props, vm.id, existing), provisioningState: 'Succeeded' };
    nic.extra = { etag: `W/"${randomUUID()}"` };
    ctx.resources.save(nic);
    attached.push({ id, properties: { primary: props.primary ?? attached.length === 0, deleteOption: props.deleteOption ?? 'Detach' } });
  }
  return attached;
}

/** A VM going away: its NICs are deleted (deleteOption Delete) or left free for another VM. */
export async function releaseVmNics(ctx: HandlerContext, vm: StoredResource): Promise<void> {
  const refs = ((vm.properties.networkProfile as Json | undefined)?.networkInterfaces as Json[] | undefined) ?? [];
  for (const ref of refs.filter(isObject)) {
    const nic = ctx.resources.find(String(ref.id));
    if (!nic || lower(holder(nic) ?? '') !== lower(vm.id)) continue;
    if ((ref.properties as Json | undefined)?.deleteOption === 'Delete') {
      await deleteTree(ctx, nic.id);
    } else {
      delete nic.properties.virtualMachine;
      ctx.resources.save(nic);
    }
  }
}

export function createOrUpdateNetworkInterface(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const { sub, rg, name } = req.params as { sub: string; rg: string; name: string };
  validateName('network', name);
  ctx.resources.requireGroup(sub, rg);
  const body = bodyObject(req.body);
  const location = requiredLocation(body, NIC_TYPE);
  const properties = objectAt(body, 'properties') ?? {};
  const id = nicIdOf(req.params);
  const existing = ctx.resources.find(id);
  if (existing && existing.location !== location) throw errors.invalidResourceLocation(name, rg, existing.location!, location);
  checkNicSubnets(ctx, id, location, properties);
  const nic = existing ?? ctx.resources.create({ id, name, type: NIC_TYPE, resourceGroup: rg, location, properties: {} });
  nic.tags = tagsOf(body) ?? nic.tags;
  // The VM that holds the NIC is Compute's to say, not the request's.
  nic.properties = { ...nicProperties(id, properties, existing ? holder(existing) : undefined, existing), provisioningState: 'Updating' };
  nic.extra = { etag: `W/"${randomUUID()}"` };
  ctx.resources.save(nic);
  const op = beginOperation(ctx, req, { resourceId: id, location, style: 'network', markFailedOnFault: true, steps: [stepAfter(ctx, 'networkResourceCreate', { kind: EFFECT_READY, args: { id } })] });
  return acceptedWrite(req.origin, op, !existing, present(nic));
}

export const getNetworkInterface = (ctx: HandlerContext, req: ArmRequest): ArmResponse =>
  ({ status: 200, body: present(ctx.resources.require(req.params.sub!, req.params.rg!, nicIdOf(req.params), NIC_TYPE, req.params.name!)) });

export function listNetworkInterfaces(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const group = ctx.resources.requireGroup(req.params.sub!, req.params.rg!);
  return { status: 200, body: { value: ctx.resources.below(group.id).filter((r) => r.type === NIC_TYPE).map((r) => present(r)) } };
}

export const deleteNetworkInterface = (ctx: HandlerContext, req: ArmRequest): ArmResponse =>
  deleteHandler(ctx, {
    idOf: nicIdOf, style: 'network', latency: 'networkResourceCreate', effect: EFFECT_DELETE,
    refuse: (nic) => {
      const owner = holder(nic);
      if (owner) throw errors.nicInUse(nic.id, owner);
    },
  })(req);

/** The effects NIC operations apply when their time comes (also after an emulator restart). */
export function registerNetworkInterfaceEffects(ctx: HandlerContext): void {
  ctx.ops.registerEffect(EFFECT_READY, (args) => {
    const nic = ctx.resources.find(String(args.id));
    if (nic) {
      nic.properties.provisioningState = 'Succeeded';
      ctx.resources.save(nic);
    }
  });
  registerDeleteEffect(ctx, EFFECT_DELETE);
}

/** The route table: each operation's function, given the context. */
export function networkInterfaceRoutes(ctx: HandlerContext): Route[] {
  registerNetworkInterfaceEffects(ctx);
  const on = withContext(ctx);
  const pattern = `${GROUP}/networkInterfaces/{name}`;
  return [
    { method: 'PUT', pattern, operation: 'networkInterfaces.createOrUpdate', api: 'network', handler: on(createOrUpdateNetworkInterface) },
    { method: 'GET', pattern, operation: 'networkInterfaces.get', api: 'network', handler: on(getNetworkInterface) },
    { method: 'DELETE', pattern, operation: 'networkInterfaces.delete', api: 'network', handler: on(deleteNetworkInterface) },
    { method: 'GET', pattern: `${GROUP}/networkInterfaces`, operation: 'networkInterfaces.list', api: 'network', handler: on(listNetworkInterfaces) },
  ];
}
