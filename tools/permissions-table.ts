/**
 * Renders infra/permissions.json as the permissions table in docs/deploy.md (`npm run docs:permissions` rewrites it
 * between its markers; test/unit/deploy-permissions.test.ts fails when the doc and the file disagree).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { actionMatches } from '../src/azure/permissions.ts';

export interface Permissions {
  scopes: Record<string, string>;
  operations: Record<string, { actions: string[]; scope: string; why: string }>;
  linkedActions: { actions: string[]; scope: string; why: string }[];
  builtInRoles: Record<string, { id: string; actions: string[] }>;
  customRoles: Record<string, { name: string; description: string; actions: string[] }>;
  assignments: { role: string; scope: string }[];
  userGranted: Record<string, string>;
}

export const START_MARKER = '<!-- permissions:start (generated from infra/permissions.json by npm run docs:permissions) -->';
export const END_MARKER = '<!-- permissions:end -->';

const repoRoot = resolve(import.meta.dirname, '..');
export const loadPermissions = (): Permissions => JSON.parse(readFileSync(resolve(repoRoot, 'infra/permissions.json'), 'utf8')) as Permissions;

/** ARM's wildcard matching, shared with preflight's permission check. */
export { actionMatches };

export function roleActions(permissions: Permissions, role: string): string[] {
  if (role.startsWith('custom:')) return permissions.customRoles[role.slice('custom:'.length)]?.actions ?? [];
  return permissions.builtInRoles[role]?.actions ?? [];
}

export function roleName(permissions: Permissions, role: string): string {
  return role.startsWith('custom:') ? `${permissions.customRoles[role.slice(7)]!.name} (custom)` : role;
}

/** The roles assigned at `scope` that grant `action`. */
export function grantingRoles(permissions: Permissions, scope: string, action: string): string[] {
  return permissions.assignments
    .filter((assignment) => assignment.scope === scope && roleActions(permissions, assignment.role).some((p) => actionMatches(p, action)))
    .map((assignment) => roleName(permissions, assignment.role));
}

export function renderTable(permissions: Permissions): string {
  const rows = [
    ...Object.entries(permissions.operations).map(([call, op]) => ({ what: `\`${call}\``, ...op })),
    ...permissions.linkedActions.map((linked) => ({ what: '(linked check)', ...linked })),
  ];
  const lines = [
    START_MARKER,
    '| Call in src/azure | ARM actions | Scope | Granted by | Why |',
    '|---|---|---|---|---|',
    ...rows.map((row) => {
      const roles = [...new Set(row.actions.flatMap((action) => grantingRoles(permissions, row.scope, action)))];
      const granted = roles.length ? roles.join(', ') : `**you**: ${permissions.userGranted[row.scope] ?? 'nothing assigns it'}`;
      return `| ${row.what} | ${row.actions.map((a) => `\`${a}\``).join('<br>')} | ${row.scope} | ${granted} | ${row.why} |`;
    }),
    '',
    'Scopes: ' + Object.entries(permissions.scopes).map(([name, text]) => `**${name}**: ${text}`).join('; ') + '.',
    END_MARKER,
  ];
  return lines.join('\n');
}

/** docs/deploy.md with its generated block replaced by `table`. */
export function withTable(doc: string, table: string): string {
  const start = doc.indexOf(START_MARKER);
  const end = doc.indexOf(END_MARKER);
  if (start < 0 || end < start) throw new Error(`docs/deploy.md: markers not found (${START_MARKER} … ${END_MARKER})`);
  return doc.slice(0, start) + table + doc.slice(end + END_MARKER.length);
}

export const REQUIRED_ACTIONS_PATH = 'src/azure/required-actions.ts';

/**
 * The deployed app's copy of the calls, actions and scopes (src/ does not read infra/, which is not deployed):
 * preflight checks Kiln's identity against it.
 */
export function renderRequiredActions(permissions: Permissions): string {
  const data = { operations: permissions.operations, linkedActions: permissions.linkedActions };
  return [
    '/** Generated from infra/permissions.json by `npm run docs:permissions` (deploy-permissions.test.ts checks it): every ARM action Kiln performs, by call and scope. */',
    '',
    "import type { RequiredActions } from './permissions.ts';",
    '',
    `export const REQUIRED_ACTIONS: RequiredActions = ${JSON.stringify(data, null, 2)};`,
    '',
  ].join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const docPath = resolve(repoRoot, 'docs/deploy.md');
  writeFileSync(docPath, withTable(readFileSync(docPath, 'utf8'), renderTable(loadPermissions())));
  writeFileSync(resolve(repoRoot, REQUIRED_ACTIONS_PATH), renderRequiredActions(loadPermissions()));
  console.log(`docs/deploy.md: permissions table regenerated; ${REQUIRED_ACTIONS_PATH} too`);
}
