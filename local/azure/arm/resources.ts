/** The stored form of an ARM resource and the helpers every handler uses to find, save and present resources. */
import { errors } from './errors.ts';
import type { ArmStore } from './store.ts';

export interface StoredResource {
  id: string;
  name: string;
  type: string;
  resourceGroup: string;
  location?: string;
  tags?: Record<string, string>;
  /** Wire `properties`, as Azure returns them (secrets stripped). */
  properties: Record<string, unknown>;
  /** Other top-level wire fields: sku, identity, zones, plan, etag, instanceId. */
  extra?: Record<string, unknown>;
  /** Emulator-only state (power state, disk directory, replication plan …); never sent as is. */
  state: Record<string, unknown>;
  /** Listed by `resources.listByResourceGroup` (children such as subnets are not). */
  tracked: boolean;
  createdTime: string;
  changedTime: string;
}

export const groupId = (sub: string, group: string): string => `/subscriptions/${sub}/resourceGroups/${group}`;

export function providerId(sub: string, group: string, provider: string, ...segments: string[]): string {
  return `${groupId(sub, group)}/providers/${provider}/${segments.join('/')}`;
}

/** Parses the subscription, group and last name out of an ARM id (for cross-references such as image ids). */
export function parseId(id: string): { subscriptionId: string; resourceGroup: string; segments: string[] } | undefined {
  const match = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/(.+)$/i.exec(id.replace(/\/{2,}/g, '/'));
  if (!match) return undefined;
  return { subscriptionId: match[1]!, resourceGroup: match[2]!, segments: match[3]!.split('/') };
}

/** Resource access with Azure's not-found rules (the group first, then the resource). */
export class Resources {
  readonly store: ArmStore;
  constructor(store: ArmStore) {
    this.store = store;
  }

  find(id: string): StoredResource | undefined {
    return this.store.get<StoredResource>('resource', id);
  }

  save(resource: StoredResource): StoredResource {
    resource.changedTime = new Date().toISOString();
    this.store.put('resource', resource.id, resource);
    return resource;
  }

  remove(id: string): void {
    this.store.delete('resource', id);
  }

  /** Every resource whose id is below `id` (children), not the resource itself. */
  below(id: string): StoredResource[] {
    return this.store.list<StoredResource>('resource', `${id}/`);
  }

  /** Every resource of the subscription `id` is in (what a NIC, subnet or NSG can reference: never another's). */
  inSubscriptionOf(id: string): StoredResource[] {
    return this.store.list<StoredResource>('resource', `${id.split('/').slice(0, 3).join('/')}/`);
  }

  requireGroup(sub: string, group: string): StoredResource {
    const found = this.find(groupId(sub, group));
    if (!found) throw errors.resourceGroupNotFound(group);
    return found;
  }

  /** A top-level resource: ResourceGroupNotFound, then ResourceNotFound (ARM's wording). */
  require(sub: string, group: string, id: string, type: string, name: string): StoredResource {
    this.requireGroup(sub, group);
    const found = this.find(id);
    if (!found) throw errors.resourceNotFound(type, name, group);
    return found;
  }

  /** A nested Compute child (gallery image, version, run command): the RP answers NotFound. */
  requireChild(sub: string, group: string, id: string, what: string): StoredResource {
    this.requireGroup(sub, group);
    const found = this.find(id);
    if (!found) throw errors.notFound(what);
    return found;
  }

  /** The parent of a child that is being created: ParentResourceNotFound when it is missing. */
  requireParent(sub: string, group: string, parentId: string): StoredResource {
    this.requireGroup(sub, group);
    const found = this.find(parentId);
    if (!found) throw errors.parentNotFound(parentId);
    return found;
  }

  create(init: Omit<StoredResource, 'createdTime' | 'changedTime' | 'state' | 'tracked'> & { state?: Record<string, unknown>; tracked?: boolean }): StoredResource {
    const now = new Date().toISOString();
    return this.save({ state: {}, tracked: true, createdTime: now, changedTime: now, ...init });
  }
}

/** The wire form of a stored resource. */
export function present(resource: StoredResource, properties: Record<string, unknown> = resource.properties): Record<string, unknown> {
  const body: Record<string, unknown> = { id: resource.id, name: resource.name, type: resource.type };
  if (resource.location !== undefined) body.location = resource.location;
  if (resource.tags !== undefined) body.tags = resource.tags;
  Object.assign(body, resource.extra ?? {});
  body.properties = properties;
  return body;
}
