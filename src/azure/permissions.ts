/**
 * What Kiln's identity may do at a scope, as ARM says it (`Microsoft.Authorization/permissions`), and ARM's rules
 * for reading that answer: wildcard actions, and notActions taken away within the same role.
 */

import { createRestError, type Client } from '@azure-rest/core-client';
import type { AzureClients } from './clients.ts';
import { callAzure } from './errors.ts';

/** One role's grant as ARM lists it for the caller at a scope (inherited assignments included). */
export interface Permission {
  actions: string[];
  notActions: string[];
}

/** The calls Kiln makes with the actions each performs and the scope it needs them at (infra/permissions.json). */
export interface RequiredActions {
  operations: Record<string, { actions: string[]; scope: string; why: string }>;
  linkedActions: Array<{ actions: string[]; scope: string; why: string }>;
}

/** The Authorization slice Kiln calls, shaped as the SDKs are (`clients.authorization.permissions.list`). */
export interface AuthorizationClient {
  permissions: {
    /** The caller's permissions at `scope`; undefined when ARM refuses to say (403 on the read itself). */
    list(scope: string): Promise<Permission[] | undefined>;
  };
}

export const AUTHORIZATION_API_VERSION = '2022-04-01';

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

export function createAuthorizationClient(client: Client): AuthorizationClient {
  return {
    permissions: {
      list: (scope) => callAzure('read permissions', scope, async () => {
        const path = `/${scope.replace(/^\/+|\/+$/g, '')}/providers/Microsoft.Authorization/permissions`;
        const response = await client.pathUnchecked(path).get({ queryParameters: { 'api-version': AUTHORIZATION_API_VERSION } });
        if (response.status === '403') return undefined;
        if (response.status !== '200') throw createRestError(response);
        const value = (response.body as { value?: unknown } | undefined)?.value;
        return (Array.isArray(value) ? value : []).map((p: { actions?: unknown; notActions?: unknown }) => ({ actions: strings(p.actions), notActions: strings(p.notActions) }));
      }),
    },
  };
}

/** The caller's permissions at `scope` (inherited grants included); undefined when ARM refuses to list them. */
export function listPermissions(clients: AzureClients, scope: string): Promise<Permission[] | undefined> {
  return clients.authorization.permissions.list(scope);
}

/**
 * `Microsoft.Compute/*` matches `Microsoft.Compute/disks/read`; `*` stands for one or more characters, as in ARM, and
 * a whole segment `/*\/` also for none (Managed Identity Operator's `userAssignedIdentities/*\/assign/action` grants
 * `userAssignedIdentities/assign/action`, the action ARM checks).
 */
export function actionMatches(pattern: string, action: string): boolean {
  const source = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.+').replaceAll('\\/.+\\/', '\\/(?:.+\\/)?');
  const regex = new RegExp(`^${source}$`, 'i');
  return regex.test(action);
}

/** An action is allowed when one role grants it and that same role's notActions do not take it away (ARM's rule). */
export function allows(permissions: Permission[], action: string): boolean {
  return permissions.some((p) => p.actions.some((a) => actionMatches(a, action)) && !p.notActions.some((n) => actionMatches(n, action)));
}
