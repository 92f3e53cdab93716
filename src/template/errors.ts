/** Turns zod issues into TemplateErrors: JSON path in the file as given, what was expected, what was found. */

import type { z } from 'zod';
import type { TemplateError } from './spec.ts';

/** AIB fields Kiln knows but does not support, with the reason shown to the user. */
const UNSUPPORTED_AIB_FIELDS: Record<string, string> = {
  optimize: 'VM boot optimization is an AIB service feature',
  autoRun: 'Kiln starts bakes by HTTP, blob upload, CLI or schedule',
  proxyVmSize: 'Kiln reaches build VMs through Run Command, with no proxy VM',
  containerInstanceSubnetId: 'Kiln uses no container instance for isolated builds',
};

/** Formats a path such as ['properties', 'customize', 2, 'inline'] as `properties.customize[2].inline`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(String(part))) out += out === '' ? String(part) : `.${String(part)}`;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out === '' ? '$' : out;
}

/** A short description of a value for `found`: strings quoted and cut, containers by kind and size. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (Array.isArray(value)) return `an array of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function quoteList(values: readonly unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join(' | ');
}

function bound(issue: { origin?: string; minimum?: unknown; maximum?: unknown; inclusive?: boolean }, small: boolean) {
  const limit = Number(small ? issue.minimum : issue.maximum);
  const op = small ? (issue.inclusive === false ? 'more than' : 'at least') : issue.inclusive === false ? 'less than' : 'at most';
  if (issue.origin === 'array') return `${op} ${limit} item${limit === 1 ? '' : 's'}`;
  if (issue.origin === 'string') return `${op} ${limit} character${limit === 1 ? '' : 's'}`;
  return `a number ${op} ${limit}`;
}

function boundMessage(issue: { origin?: string }, small: boolean): string {
  const text = bound(issue, small);
  return issue.origin === 'array' || issue.origin === 'string' ? `must have ${text}` : `must be ${text.replace(/^a number /, '')}`;
}

/** Edit distance (insert, delete, substitute, swap neighbours), enough to catch a typo such as aritfactTags. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const up = d[i - 1] as number[];
      row[j] = Math.min((up[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (up[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j] ?? 0, ((d[i - 2] as number[])[j - 2] ?? 0) + 1);
    }
  }
  return (d[a.length] as number[])[b.length] ?? 0;
}

/** The known field closest to `key`, if it is close enough to be a typo (or differs only in case). */
export function closestField(key: string, known: Iterable<string>): string | undefined {
  let best: { name: string; score: number } | undefined;
  for (const name of known) {
    const score = name.toLowerCase() === key.toLowerCase() ? 0 : distance(key.toLowerCase(), name.toLowerCase());
    if (!best || score < best.score) best = { name, score };
  }
  const allowed = key.length <= 4 ? 1 : 2;
  return best && best.score <= allowed ? best.name : undefined;
}

function fromIssue(issue: z.core.$ZodIssue, prefix: readonly PropertyKey[], known: ReadonlySet<string>): TemplateError[] {
  const path = [...prefix, ...issue.path];
  const at = formatPath(path);
  const found = describe(issue.input);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => {
        const reason = UNSUPPORTED_AIB_FIELDS[key];
        const value = (issue.input as Record<string, unknown> | undefined)?.[key];
        const near = reason ? undefined : closestField(key, known);
        const message = reason
          ? `field "${key}" is not supported by Kiln (${reason})`
          : `field "${key}" is not supported by Kiln${near ? `; did you mean "${near}"?` : ''}`;
        return { path: formatPath([...path, key]), message, found: describe(value) };
      });
    case 'invalid_type': {
      const expected = issue.expected === 'int' ? 'an integer' : issue.expected;
      if (issue.input === undefined) return [{ path: at, message: 'is required', expected, found }];
      return [{ path: at, message: `must be ${expected === 'an integer' ? expected : `a${/^[aeiou]/.test(expected) ? 'n' : ''} ${expected}`}`, expected, found }];
    }
    case 'invalid_value':
      return [{ path: at, message: `must be one of ${quoteList(issue.values)}`, expected: quoteList(issue.values), found }];
    case 'invalid_union': {
      if ('discriminator' in issue && (issue as { note?: string }).note === 'No matching discriminator') {
        const options = (issue as { options?: unknown[] }).options ?? [];
        const value = (issue.input as Record<string, unknown> | undefined)?.[String(issue.discriminator)];
        return [{
          path: at,
          message: value === undefined ? 'is required' : `unknown ${String(issue.discriminator)}`,
          expected: quoteList(options),
          found: describe(value),
        }];
      }
      // A plain union of a string form and an object form: an object gets the object branch's own errors.
      const objectBranch = issue.errors.find((branch) => !branch.some((inner) => inner.code === 'invalid_type' && inner.path.length === 0));
      if (objectBranch && typeof issue.input === 'object' && issue.input !== null) return objectBranch.flatMap((inner) => fromIssue(inner, path, known));
      return [{ path: at, message: issue.message, found }];
    }
    case 'too_small':
      return [{ path: at, message: boundMessage(issue, true), expected: bound(issue, true), found }];
    case 'too_big':
      return [{ path: at, message: boundMessage(issue, false), expected: bound(issue, false), found }];
    case 'invalid_key': {
      const inner = issue.issues[0];
      const expected = inner && 'params' in inner ? (inner.params as { expected?: string } | undefined)?.expected : undefined;
      return [{ path: at, message: `key ${inner?.message ?? 'is not valid'}`, ...(expected ? { expected } : {}), found: describe(issue.input) }];
    }
    case 'invalid_format':
    case 'custom': {
      const expected = (issue as { params?: { expected?: string } }).params?.expected;
      return [{ path: at, message: issue.message, ...(expected ? { expected } : {}), found }];
    }
    default:
      return [{ path: at, message: issue.message, found }];
  }
}

/** Converts every zod issue; `prefix` is the path of the validated value inside the file, `known` the field names for suggestions. */
export function fromZod(error: z.ZodError, prefix: readonly PropertyKey[] = [], known: ReadonlySet<string> = new Set()): TemplateError[] {
  return error.issues.flatMap((issue) => fromIssue(issue, prefix, known));
}
