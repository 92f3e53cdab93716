/** Resource groups: create, get, head, delete (a Location-only LRO that deletes what is in the group), list resources. */
import { beginOperation, stepAfter, withContext, type HandlerContext } from '../context.ts';
import { errors } from '../errors.ts';
import type { ArmRequest, ArmResponse } from '../http.ts';
import { acceptedResourceGroupDelete, type Effect } from '../lro.ts';
import { groupId, present, type StoredResource } from '../resources.ts';
import type { Route } from '../routes.ts';
import { registerDeleteEffect } from '../release.ts';
import { bodyObject, requiredLocation, tagsOf, validateName } from '../validate.ts';

const TYPE = 'Microsoft.Resources/resourceGroups';
const BASE = '/subscriptions/{sub}/resourceGroups/{rg}';

function presentGroup(group: StoredResource): Record<string, unknown> {
  return present(group, { provisioningState: group.state.deleting ? 'Deleting' : 'Succeeded' });
}

/** `$filter=tagName eq 'k' and tagValue eq 'v'` (the filters Kiln's janitor uses), else every resource. */
function tagFilter(filter: string | null): ((r: StoredResource) => boolean) | undefined {
  if (!filter) return undefined;
  const match = /^\s*tagName\s+eq\s+'([^']*)'(?:\s+and\s+tagValue\s+eq\s+'([^']*)')?\s*$/i.exec(filter);
  if (!match) {
    throw errors.invalidFilterInQueryString(filter, "tagName eq '<name>' [and tagValue eq '<value>']");
  }
  const [, name, value] = match;
  return (r) => r.tags?.[name!] !== undefined && (value === undefined || r.tags[name!] === value);
}

const DELETE_GROUP_EFFECT = 'resourceGroup.delete';

export function createOrUpdateResourceGroup(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const { sub, rg } = req.params as { sub: string; rg: string };
  validateName('resourceGroup', rg);
  const body = bodyObject(req.body);
  const location = requiredLocation(body, 'resourceGroups');
  const id = groupId(sub, rg);
  const existing = ctx.resources.find(id);
  if (existing?.state.deleting) {
    throw errors.resourceGroupBeingDeleted(rg);
  }
  if (existing && existing.location !== location) {
    throw errors.invalidResourceGroupLocation(location, String(existing.location));
  }
  const group = existing ?? ctx.resources.create({ id, name: rg, type: TYPE, resourceGroup: rg, location, properties: {}, tracked: false });
  group.tags = tagsOf(body) ?? (existing ? existing.tags : undefined);
  if (typeof body.managedBy === 'string') group.extra = { managedBy: body.managedBy };
  ctx.resources.save(group);
  return { status: existing ? 200 : 201, body: presentGroup(group) };
}

export function updateResourceGroup(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const { sub, rg } = req.params as { sub: string; rg: string };
  const group = ctx.resources.requireGroup(sub, rg);
  const tags = tagsOf(bodyObject(req.body));
  if (tags) group.tags = tags;
  ctx.resources.save(group);
  return { status: 200, body: presentGroup(group) };
}

/** While a delete runs the group is still there, saying Deleting. */
export const getResourceGroup = (ctx: HandlerContext, req: ArmRequest): ArmResponse =>
  ({ status: 200, body: presentGroup(ctx.resources.requireGroup(req.params.sub!, req.params.rg!)) });

export const checkResourceGroupExistence = (ctx: HandlerContext, req: ArmRequest): ArmResponse =>
  ({ status: ctx.resources.find(groupId(req.params.sub!, req.params.rg!)) ? 204 : 404 });

export function deleteResourceGroup(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const { sub, rg } = req.params as { sub: string; rg: string };
  const group = ctx.resources.requireGroup(sub, rg);
  group.state.deleting = true;
  ctx.resources.save(group);
  const effect: Effect = { kind: DELETE_GROUP_EFFECT, args: { id: group.id } };
  const op = beginOperation(ctx, req, {
    resourceId: group.id, location: group.location ?? 'eastus', style: 'resources',
    steps: [stepAfter(ctx, 'resourceGroupDelete', effect)],
  });
  return acceptedResourceGroupDelete(req.origin, op);
}

export function listResourceGroups(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const matches = tagFilter(req.query.get('$filter'));
  const top = Number(req.query.get('$top') ?? Infinity);
  const value = ctx.resources
    .store.list<StoredResource>('resource', `/subscriptions/${req.params.sub}/resourceGroups/`)
    .filter((r) => r.type === TYPE && (!matches || matches(r)))
    .slice(0, top)
    .map(presentGroup);
  return { status: 200, body: { value, nextLink: null } };
}

export function listResourcesByResourceGroup(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const group = ctx.resources.requireGroup(req.params.sub!, req.params.rg!);
  const matches = tagFilter(req.query.get('$filter'));
  const top = Number(req.query.get('$top') ?? Infinity);
  const expand = (req.query.get('$expand') ?? '').toLowerCase();
  const value = ctx.resources
    .below(group.id)
    .filter((r) => r.tracked && (!matches || matches(r)))
    .slice(0, top)
    .map((r) => {
      const item: Record<string, unknown> = { id: r.id, name: r.name, type: r.type, location: r.location, tags: r.tags ?? {} };
      if (expand.includes('createdtime')) item.createdTime = r.createdTime;
      if (expand.includes('changedtime')) item.changedTime = r.changedTime;
      if (expand.includes('provisioningstate')) item.provisioningState = r.properties.provisioningState ?? 'Succeeded';
      return item;
    });
  return { status: 200, body: { value, nextLink: null } };
}

/** The effect a resource group delete applies when its time comes (also after an emulator restart). */
export function registerResourceGroupEffects(ctx: HandlerContext): void {
  registerDeleteEffect(ctx, DELETE_GROUP_EFFECT);
}

/** The route table: each operation's function, given the context. */
export function resourceGroupRoutes(ctx: HandlerContext): Route[] {
  registerResourceGroupEffects(ctx);
  const on = withContext(ctx);
  return [
    { method: 'PUT', pattern: BASE, operation: 'resourceGroups.createOrUpdate', api: 'resources', handler: on(createOrUpdateResourceGroup) },
    { method: 'PATCH', pattern: BASE, operation: 'resourceGroups.update', api: 'resources', handler: on(updateResourceGroup) },
    { method: 'GET', pattern: BASE, operation: 'resourceGroups.get', api: 'resources', handler: on(getResourceGroup) },
    { method: 'HEAD', pattern: BASE, operation: 'resourceGroups.checkExistence', api: 'resources', handler: on(checkResourceGroupExistence) },
    { method: 'DELETE', pattern: BASE, operation: 'resourceGroups.delete', api: 'resources', handler: on(deleteResourceGroup) },
    { method: 'GET', pattern: '/subscriptions/{sub}/resourceGroups', operation: 'resourceGroups.list', api: 'resources', handler: on(listResourceGroups) },
    { method: 'GET', pattern: `${BASE}/resources`, operation: 'resources.listByResourceGroup', api: 'resources', handler: on(listResourcesByResourceGroup) },
  ];
}
