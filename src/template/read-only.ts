/** Fields Azure sets on an imageTemplate (as `az image builder show` prints them): accepted, dropped, and said so. */

import { formatPath } from './errors.ts';
import type { TemplateWarning } from './spec.ts';

/** Paths of read-only fields, relative to the resource; `properties.` ones also apply to a properties-only template. */
const READ_ONLY: readonly (readonly string[])[] = [
  ['id'],
  ['systemData'],
  ['etag'],
  ['resourceGroup'],
  ['identity', 'principalId'],
  ['identity', 'tenantId'],
  ['properties', 'provisioningState'],
  ['properties', 'provisioningError'],
  ['properties', 'lastRunStatus'],
  ['properties', 'exactStagingResourceGroup'],
  ['properties', 'source', 'exactVersion'],
];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** AIB reads a null member as an absent one (`az` prints unset fields as null). */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isObject(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]));
}

/** A copy of the template without read-only fields and null members, and one warning per read-only field found. */
export function dropReadOnly(template: Record<string, unknown>, isResource: boolean): { template: Record<string, unknown>; warnings: TemplateWarning[] } {
  const copy = withoutNulls(template) as Record<string, unknown>;
  const warnings: TemplateWarning[] = [];
  for (const path of READ_ONLY) {
    const relative = isResource ? path : path[0] === 'properties' ? path.slice(1) : undefined;
    if (!relative || relative.length === 0) continue;
    let holder: unknown = copy;
    for (const key of relative.slice(0, -1)) holder = isObject(holder) ? holder[key] : undefined;
    const last = relative.at(-1) ?? '';
    if (!isObject(holder) || !(last in holder)) continue;
    delete holder[last];
    warnings.push({ path: formatPath(relative), message: `read-only field ${last} (set by Azure Image Builder) is ignored` });
  }
  return { template: copy, warnings };
}
