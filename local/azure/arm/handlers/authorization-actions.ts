/**
 * RBAC on every ARM request: the action a request performs (`Microsoft.Compute/virtualMachines/write`) is the
 * provider namespace, the resource types along its path and a verb from its method (a POST's verb is its action's
 * name: `…/deallocate/action`); a caller whose grants at the request's scope do not allow it gets 403.
 */
import { errors } from '../errors.ts';
import type { PermissionGrants } from './authorization.ts';

const VERBS: Record<string, string> = { GET: 'read', HEAD: 'read', PUT: 'write', PATCH: 'write', DELETE: 'delete' };

/**
 * Not checked here: the permissions list checks its own action (and answers a missing group first); an operation's
 * status monitor is polled by the caller that was allowed to start the operation.
 */
const UNCHECKED_OPERATIONS = new Set(['permissions.list', 'operations.get']);

export interface RequestAction {
  action: string;
  /** The resource or collection the request names (a POST's without its action). */
  scope: string;
}

/** Alternate segments of `type/name/type/name…`: the types. */
const typesOf = (segments: string[]): string[] => segments.filter((_, i) => i % 2 === 0);

/** The action a request performs and its scope; undefined outside a subscription or for a method ARM has no verb for. */
export function requestAction(method: string, path: string): RequestAction | undefined {
  const segments = path.split('/').filter(Boolean);
  if (segments[0]?.toLowerCase() !== 'subscriptions' || segments.length < 2) return undefined;
  const upper = method.toUpperCase();
  const post = upper === 'POST';
  const verb = post ? (segments.length > 2 ? `${segments.at(-1)}/action` : undefined) : VERBS[upper];
  if (!verb) return undefined;
  const resource = post ? segments.slice(0, -1) : segments;
  const scope = `/${resource.join('/')}`;
  // The last `providers/{namespace}` names the provider (an extension resource sits below another resource's).
  const at = resource.findLastIndex((segment, i) => segment.toLowerCase() === 'providers' && i >= 2 && i + 1 < resource.length);
  const below = at === -1 ? [] : resource.slice(at + 2);
  // `/subscriptions/{id}/…` without a provider, and a provider's own registration, are Microsoft.Resources'.
  const [namespace, types] = at === -1 || below.length === 0
    ? ['Microsoft.Resources', ['subscriptions', ...typesOf(resource.slice(2, at === -1 ? undefined : at + 1))]]
    : [resource[at + 1]!, typesOf(below)];
  return { action: [namespace, ...types, verb].join('/'), scope };
}

/** Throws ARM's 403 AuthorizationFailed unless the grants allow the request's action at its scope. */
export function authorizeRequest(grants: PermissionGrants, request: { method: string; path: string; operation: string }): void {
  if (UNCHECKED_OPERATIONS.has(request.operation)) return;
  const needed = requestAction(request.method, request.path);
  if (needed && !grants.allows(needed.action, needed.scope)) throw errors.authorizationFailed(needed.action, needed.scope);
}
