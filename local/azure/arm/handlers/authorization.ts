/**
 * `Microsoft.Authorization/permissions`: what the caller (the emulator's token) may do at a scope, as ARM lists it:
 * every grant at the scope or above it, each with its actions and notActions. The grants come from the emulator's
 * options or seed (default: everything at the subscription); a caller that may not read permissions gets 403, and
 * every other request is held to the same grants (authorization-actions.ts).
 */
import { z } from 'zod';
import type { HandlerContext } from '../context.ts';
import { errors } from '../errors.ts';
import type { ArmRequest, ArmResponse } from '../http.ts';
import type { Route } from '../routes.ts';

export const permissionGrantSchema = z.object({
  /** An ARM scope: `/subscriptions/{id}`, a resource group or a resource id. */
  scope: z.string().regex(/^\/subscriptions\/[^/]+(\/.*)?$/i, 'expected an ARM scope (/subscriptions/{id}/…)'),
  actions: z.array(z.string()),
  notActions: z.array(z.string()).default([]),
}).strict();
export type PermissionGrant = z.infer<typeof permissionGrantSchema>;

const READ_PERMISSIONS = 'Microsoft.Authorization/permissions/read';

/** Compiled wildcards: every ARM request is checked against every grant's patterns, and there are few patterns. */
const compiled = new Map<string, RegExp>();

/**
 * ARM's wildcard: `*` stands for one or more characters; case does not matter. A whole segment `/*\/` may also stand
 * for none: Managed Identity Operator's `userAssignedIdentities/*\/assign/action` grants the action ARM checks,
 * `userAssignedIdentities/assign/action`.
 */
function matches(pattern: string, action: string): boolean {
  let regex = compiled.get(pattern);
  if (!regex) {
    const source = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.+').replaceAll('\\/.+\\/', '\\/(?:.+\\/)?');
    regex = new RegExp(`^${source}$`, 'i');
    compiled.set(pattern, regex);
  }
  return regex.test(action);
}

/** The grants the caller holds; replaced whole by `set` (the admin route, tests). */
export class PermissionGrants {
  #grants: PermissionGrant[];
  constructor(grants: PermissionGrant[]) {
    this.#grants = grants;
  }

  set(grants: unknown): PermissionGrant[] {
    const parsed = z.array(permissionGrantSchema).safeParse(grants);
    if (!parsed.success) throw errors.invalidRequestContent(`Permission grants: expected [{ scope, actions, notActions? }], found ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}.`);
    this.#grants = parsed.data;
    return this.#grants;
  }

  /** Whether a grant at `scope` or above it allows `action` (a grant's notActions take away within that grant only). */
  allows(action: string, scope: string): boolean {
    return this.at(scope).some((g) => g.actions.some((a) => matches(a, action)) && !g.notActions.some((n) => matches(n, action)));
  }

  /** The grants at `scope` or above it (a grant on a group holds for everything in it). */
  at(scope: string): PermissionGrant[] {
    const target = `${scope.toLowerCase().replace(/\/+$/, '')}/`;
    return this.#grants.filter((g) => target.startsWith(`${g.scope.toLowerCase().replace(/\/+$/, '')}/`));
  }
}

/** Everything at the subscription: the emulator's token as an Owner, unless told otherwise. */
export const allowEverything = (subscriptionId: string): PermissionGrant[] => [{ scope: `/subscriptions/${subscriptionId}`, actions: ['*'], notActions: [] }];

const SUFFIX = 'providers/Microsoft.Authorization/permissions';
const GROUP = '/subscriptions/{sub}/resourceGroups/{rg}';
const PATTERNS = [
  `/subscriptions/{sub}/${SUFFIX}`,
  `${GROUP}/${SUFFIX}`,
  `${GROUP}/providers/{ns}/{t1}/{n1}/${SUFFIX}`,
  `${GROUP}/providers/{ns}/{t1}/{n1}/{t2}/{n2}/${SUFFIX}`,
  `${GROUP}/providers/{ns}/{t1}/{n1}/{t2}/{n2}/{t3}/{n3}/${SUFFIX}`,
];

/** The caller's permissions at the scope the path names (everything before `/providers/Microsoft.Authorization/…`). */
export function listPermissions(ctx: HandlerContext, req: ArmRequest, grants: PermissionGrants): ArmResponse {
  const scope = req.path.slice(0, -(SUFFIX.length + 1));
  if (req.params.rg) ctx.resources.requireGroup(req.params.sub!, req.params.rg);
  if (!grants.allows(READ_PERMISSIONS, scope)) throw errors.authorizationFailed(READ_PERMISSIONS, scope);
  return { status: 200, body: { value: grants.at(scope).map((g) => ({ actions: g.actions, notActions: g.notActions, dataActions: [], notDataActions: [] })) } };
}

/** The route table: the one operation at each depth of scope. */
export function authorizationRoutes(ctx: HandlerContext, grants: PermissionGrants): Route[] {
  return PATTERNS.map((pattern) => ({ method: 'GET', pattern, operation: 'permissions.list', api: 'authorization' as const, handler: (req: ArmRequest) => listPermissions(ctx, req, grants) }));
}
