/** Resource groups: create, get, head, delete (a Location-only LRO that deletes what is in the group), list resources. */
import { beginOperation, stepAfter, type HandlerContext } from '../context.ts';
import { errors } from '../errors.ts';
import type { ArmRequest } from '../http.ts';
import { acceptedResourceGroupDelete, type Effect } from '../lro.ts';
import { groupId, present, type StoredResource } from '../resources.ts';
import type { Route } from '../routes.ts';
import { deleteTree } from '../release.ts';
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

export function resourceGroupRoutes(ctx: HandlerContext): Route[] {
  const { resources } = ctx;

  ctx.ops.registerEffect(DELETE_GROUP_EFFECT, (args, op) => deleteTree(ctx, String(args.id), op.id));

  const createOrUpdate = (req: ArmRequest) => {
    const { sub, rg } = req.params as { sub: string; rg: string };
    validateName('resourceGroup', rg);
    const body = bodyObject(req.body);
    const location = requiredLocation(body, 'resourceGroups');
    const id = groupId(sub, rg);
    const existing = resources.find(id);
    if (existing?.state.deleting) {
      throw errors.resourceGroupBeingDeleted(rg);
    }
    if (existing && existing.location !== location) {
      throw errors.invalidResourceGroupLocation(location, String(existing.location));
    }
    const group = existing ?? resources.create({ id, name: rg, type: TYPE, resourceGroup: rg, location, properties: {}, tracked: false });
    group.tags = tagsOf(body) ?? (existing ? existing.tags : undefined);
    if (typeof body.managedBy === 'string') group.extra = { managedBy: body.managedBy };
    resources.save(group);
    return { status: existing ? 200 : 201, body: presentGroup(group) };
  };

  return [
    { method: 'PUT', pattern: BASE, operation: 'resourceGroups.createOrUpdate', api: 'resources', handler: createOrUpdate },
    {
      method: 'PATCH', pattern: BASE, operation: 'resourceGroups.update', api: 'resources',
      handler: (req) => {
        const { sub, rg } = req.params as { sub: string; rg: string };
        const group = resources.requireGroup(sub, rg);
        const tags = tagsOf(bodyObject(req.body));
        if (tags) group.tags = tags;
        resources.save(group);
        return { status: 200, body: presentGroup(group) };
      },
    },
    {
      method: 'GET', pattern: BASE, operation: 'resourceGroups.get', api: 'resources',
      // While a delete runs the group is still there, saying Deleting.
      handler: (req) => ({ status: 200, body: presentGroup(resources.requireGroup(req.params.sub!, req.params.rg!)) }),
    },
    {
      method: 'HEAD', pattern: BASE, operation: 'resourceGroups.checkExistence', api: 'resources',
      handler: (req) => {
        return { status: resources.find(groupId(req.params.sub!, req.params.rg!)) ? 204 : 404 };
      },
    },
    {
      method: 'DELETE', pattern: BASE, operation: 'resourceGroups.delete', api: 'resources',
      handler: (req) => {
        const { sub, rg } = req.params as { sub: string; rg: string };
        const group = resources.requireGroup(sub, rg);
        group.state.deleting = true;
        resources.save(group);
        const effect: Effect = { kind: DELETE_GROUP_EFFECT, args: { id: group.id } };
        const op = beginOperation(ctx, req, {
          resourceId: group.id, location: group.location ?? 'eastus', style: 'resources',
          steps: [stepAfter(ctx, 'resourceGroupDelete', effect)],
        });
        return acceptedResourceGroupDelete(req.origin, op);
      },
    },
    {
      method: 'GET', pattern: '/subscriptions/{sub}/resourceGroups', operation: 'resourceGroups.list', api: 'resources',
      handler: (req) => {
        const matches = tagFilter(req.query.get('$filter'));
        const top = Number(req.query.get('$top') ?? Infinity);
        const value = resources
          .store.list<StoredResource>('resource', `/subscriptions/${req.params.sub}/resourceGroups/`)
          .filter((r) => r.type === TYPE && (!matches || matches(r)))
          .slice(0, top)
          .map(presentGroup);
        return { status: 200, body: { value, nextLink: null } };
      },
    },
    {
      method: 'GET', pattern: `${BASE}/resources`, operation: 'resources.listByResourceGroup', api: 'resources',
      handler: (req) => {
        const group = resources.requireGroup(req.params.sub!, req.params.rg!);
        const matches = tagFilter(req.query.get('$filter'));
        const top = Number(req.query.get('$top') ?? Infinity);
        const expand = (req.query.get('$expand') ?? '').toLowerCase();
        const value = resources
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
      },
    },
  ];
}
