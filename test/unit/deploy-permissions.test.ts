// Least privilege that is still enough: every Azure call in src/azure is listed in infra/permissions.json with the
// ARM actions it performs, each action is granted at its scope by a role infra assigns (or is named as the user's
// to grant), infra uses exactly those roles, and docs/deploy.md's table is generated from the same file.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { actionMatches, grantingRoles, loadPermissions, renderRequiredActions, renderTable, END_MARKER, REQUIRED_ACTIONS_PATH, START_MARKER } from '../../tools/permissions-table.ts';

const root = resolve(import.meta.dirname, '../..');
const permissions = loadPermissions();
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** `clients.compute.virtualMachines.get(` → `compute.virtualMachines.get`, across src/azure. */
function sdkCalls(): Set<string> {
  const calls = new Set<string>();
  for (const file of readdirSync(join(root, 'src/azure')).filter((f) => f.endsWith('.ts'))) {
    for (const match of read(`src/azure/${file}`).matchAll(/clients\.(compute|resources|authorization)\.(\w+)\.(\w+)\(/g)) {
      calls.add(`${match[1]}.${match[2]}.${match[3]}`.replace(/\.begin(\w)/, (_, c: string) => `.${c.toLowerCase()}`));
    }
  }
  return calls;
}

describe('deploy permissions', () => {
  it('matches ARM wildcards as Azure does', () => {
    expect(actionMatches('Microsoft.Compute/virtualMachines/*', 'Microsoft.Compute/virtualMachines/runCommands/write')).toBe(true);
    expect(actionMatches('Microsoft.Compute/disks/read', 'Microsoft.Compute/disks/beginGetAccess/action')).toBe(false);
    expect(actionMatches('Microsoft.Network/*', 'Microsoft.Compute/disks/read')).toBe(false);
  });

  it('lists every Azure call src/azure makes, and nothing it does not make', () => {
    const calls = sdkCalls();
    expect(calls.size).toBeGreaterThan(20);
    expect([...calls].filter((call) => !(call in permissions.operations)).sort()).toEqual([]);
    expect(Object.keys(permissions.operations).filter((call) => !calls.has(call)).sort()).toEqual([]);
  });

  it('grants every action at its scope, or names it as the user\'s to grant', () => {
    const missing: string[] = [];
    const rows = [...Object.entries(permissions.operations).map(([call, op]) => ({ call, ...op })), ...permissions.linkedActions.map((l) => ({ call: 'linked', ...l }))];
    for (const row of rows) {
      if (row.scope in permissions.userGranted) continue;
      expect(permissions.scopes, row.call).toHaveProperty(row.scope);
      for (const action of row.actions) if (grantingRoles(permissions, row.scope, action).length === 0) missing.push(`${row.call}: ${action} @ ${row.scope}`);
    }
    expect(missing).toEqual([]);
  });

  it('VHD distribution needs the disk-access actions that no built-in role assigned here has (issue: 403 on Azure)', () => {
    const builtIn = permissions.assignments.filter((a) => !a.role.startsWith('custom:') && a.scope === 'staging');
    const action = permissions.operations['compute.disks.grantAccess']!.actions[0]!;
    expect(builtIn.every((a) => !permissions.builtInRoles[a.role]!.actions.some((p) => actionMatches(p, action)))).toBe(true);
    expect(grantingRoles(permissions, 'staging', action)).toEqual(['Kiln staging (custom)']);
  });

  it('infra assigns the built-in roles by the ids in the file and builds each custom role from it', () => {
    const bicep = ['infra/main.bicep', ...readdirSync(join(root, 'infra/app')).map((f) => `infra/app/${f}`)].map(read).join('\n');
    expect(bicep).toContain("loadJsonContent('permissions.json')");
    for (const role of new Set(permissions.assignments.map((a) => a.role))) {
      if (role.startsWith('custom:')) expect(bicep).toContain(`permissions.customRoles.${role.slice(7)}.actions`);
      else expect(bicep).toContain(`permissions.builtInRoles['${role}'].id`);
    }
    // No role is hard-coded as a user: CI deploys as a service principal.
    expect(bicep).not.toMatch(/principalType: 'User'/);
    expect(JSON.parse(read('infra/main.parameters.json')).parameters.principalType.value).toBe('${AZURE_PRINCIPAL_TYPE=User}');
  });

  it('the deployed app carries the same calls and actions for preflight (run npm run docs:permissions after a change)', () => {
    expect(read(REQUIRED_ACTIONS_PATH)).toBe(renderRequiredActions(permissions));
  });

  it('docs/deploy.md shows the table generated from the file (run npm run docs:permissions after a change)', () => {
    const doc = read('docs/deploy.md');
    expect(doc.slice(doc.indexOf(START_MARKER), doc.indexOf(END_MARKER) + END_MARKER.length)).toBe(renderTable(permissions));
  });
});
