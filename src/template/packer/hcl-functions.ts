/** The HCL2 functions Kiln evaluates in Packer templates: the common string, list and time functions. */

import { randomUUID } from 'node:crypto';

type Fn = (args: unknown[], context: { now: Date; env: Record<string, string | undefined>; inVariableDefault: boolean }) => unknown;

function str(value: unknown, fn: string, n: number): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`${fn}(): argument ${n + 1} must be a string, found ${Array.isArray(value) ? 'a list' : typeof value}`);
}

function list(value: unknown, fn: string, n: number): unknown[] {
  if (Array.isArray(value)) return value;
  throw new Error(`${fn}(): argument ${n + 1} must be a list, found ${typeof value}`);
}

/** Packer's `format` verbs: %s, %d, %v, %q and %%. */
function format(spec: string, args: unknown[]): string {
  let next = 0;
  return spec.replace(/%([%sdvq])/g, (_whole, verb: string) => {
    if (verb === '%') return '%';
    if (next >= args.length) throw new Error(`format(): "${spec}" needs more arguments than the ${args.length} given`);
    const value = args[next++];
    if (verb === 'd') return String(Math.trunc(Number(value)));
    if (verb === 'q') return JSON.stringify(str(value, 'format', next));
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
}

/** `formatdate` spec tokens (YYYY, YY, MM, M, DD, D, hh, h, mm, m, ss, s, ZZZ, 'literal'). */
function formatdate(spec: string, timestamp: string): string {
  const at = new Date(timestamp);
  if (Number.isNaN(at.getTime())) throw new Error(`formatdate(): ${JSON.stringify(timestamp)} is not an RFC 3339 timestamp`);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const tokens: Record<string, string> = {
    YYYY: String(at.getUTCFullYear()), YY: pad(at.getUTCFullYear() % 100), MM: pad(at.getUTCMonth() + 1), M: String(at.getUTCMonth() + 1),
    DD: pad(at.getUTCDate()), D: String(at.getUTCDate()), hh: pad(at.getUTCHours()), h: String(at.getUTCHours()),
    mm: pad(at.getUTCMinutes()), m: String(at.getUTCMinutes()), ss: pad(at.getUTCSeconds()), s: String(at.getUTCSeconds()), ZZZ: 'UTC', Z: 'Z',
  };
  return spec.replace(/'([^']*)'|YYYY|YY|MM|M|DD|D|hh|h|mm|m|ss|s|ZZZ|Z/g, (token, literal: string | undefined) => literal ?? tokens[token]!);
}

export const HCL_FUNCTIONS: Record<string, Fn> = {
  format: ([spec, ...rest]) => format(str(spec, 'format', 0), rest),
  lower: ([s]) => str(s, 'lower', 0).toLowerCase(),
  upper: ([s]) => str(s, 'upper', 0).toUpperCase(),
  replace: ([s, search, replacement]) => {
    const [text, find, by] = [str(s, 'replace', 0), str(search, 'replace', 1), str(replacement, 'replace', 2)];
    // A search written /…/ is a regular expression, as in HCL.
    const regex = /^\/(.*)\/$/s.exec(find);
    return regex ? text.replace(new RegExp(regex[1]!, 'g'), by) : text.split(find).join(by);
  },
  join: ([sep, ...lists]) => lists.flatMap((l, i) => list(l, 'join', i + 1)).map((v, i) => str(v, 'join', i)).join(str(sep, 'join', 0)),
  split: ([sep, s]) => str(s, 'split', 1).split(str(sep, 'split', 0)),
  trimspace: ([s]) => str(s, 'trimspace', 0).trim(),
  concat: (lists) => lists.flatMap((l, i) => list(l, 'concat', i)),
  coalesce: (values) => values.find((v) => v !== null && v !== undefined && v !== ''),
  length: ([v]) => (typeof v === 'string' || Array.isArray(v) ? v.length : Object.keys(v as object).length),
  timestamp: (_args, { now }) => now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  formatdate: ([spec, ts]) => formatdate(str(spec, 'formatdate', 0), str(ts, 'formatdate', 1)),
  uuidv4: () => randomUUID(),
  env: ([name], { env, inVariableDefault }) => {
    // Packer allows env() only in a variable's default, so a template's meaning cannot change with the shell behind it.
    if (!inVariableDefault) throw new Error('env() is allowed only in a variable\'s default (as in Packer)');
    return env[str(name, 'env', 0)] ?? '';
  },
};
