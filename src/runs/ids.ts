/** Run ids: `{template}-{UTC time}-{4 hex}`, readable in listings and unique enough for concurrent triggers. */

import { createHash, randomBytes } from 'node:crypto';

const RUN_ID = /^[a-z0-9][a-z0-9-]{0,62}-\d{8}T\d{6}Z-[0-9a-f]{4}$/;

/** A template name made safe for ids, blob paths and Azure resource names: lower-case letters, digits, dashes. */
export function slugify(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/g, '');
  return slug || 'template';
}

/** A new run id, e.g. `ubuntu-web-20261125T131900Z-3f2a`. The random suffix separates runs started in one second. */
export function newRunId(templateName: string, now: Date, random: () => string = () => randomBytes(2).toString('hex')): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return `${slugify(templateName)}-${stamp}-${random()}`;
}

/** True for a string shaped like a run id (the API rejects anything else before touching storage). */
export function isRunId(value: string): boolean {
  return RUN_ID.test(value);
}

/**
 * The id of the run that retries `failedId`: its template and time with a suffix hashed from it, so every retry
 * request of one run names the same new run. `attempt` steps past an id another run already has (1 in 65,536).
 */
export function retryRunId(failedId: string, attempt = 0): string {
  const suffix = createHash('sha256').update(`retry:${failedId}:${attempt}`).digest('hex').slice(0, 4);
  return `${failedId.slice(0, -4)}${suffix}`;
}
