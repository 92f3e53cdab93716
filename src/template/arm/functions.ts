/** The ARM template functions Kiln evaluates: the ones image templates use, each with ARM's argument rules. */

import { createHash } from 'node:crypto';
import { ArmExpressionError } from './expression.ts';
import { uniqueString } from './unique-string.ts';

/** What an expression can see: parameters, variables, and the deployment's subscription and resource group. */
export interface ArmScope {
  parameter(name: string): unknown;
  variable(name: string): unknown;
  subscriptionId?: string;
  resourceGroup: { name?: string; location?: string };
  /** utcNow() is allowed only in a parameter's defaultValue, as in ARM. */
  inParameterDefault: boolean;
  /** One clock reading per load, so every utcNow() in a template agrees. */
  now: Date;
}

type ArmFunction = (args: unknown[], scope: ArmScope) => unknown;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an int' : 'a number';
  return `a ${typeof value === 'boolean' ? 'bool' : typeof value}`;
}

function arity(name: string, args: unknown[], min: number, max = min): void {
  if (args.length < min || args.length > max) {
    const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
    throw new ArmExpressionError(`${name}() takes ${want} argument${want === '1' ? '' : 's'}, found ${args.length}`);
  }
}

function str(name: string, value: unknown, which = 'argument'): string {
  if (typeof value !== 'string') throw new ArmExpressionError(`${name}(): the ${which} must be a string, found ${typeName(value)}`);
  return value;
}

/** ARM's string(): strings as they are, bools as True/False, everything else as compact JSON. */
export function armString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return JSON.stringify(value);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return a === b;
}

/** union() of objects merges nested objects too (later values win); of arrays keeps each distinct item once. */
function union(args: unknown[]): unknown {
  if (args.every(Array.isArray)) {
    const out: unknown[] = [];
    for (const item of (args as unknown[][]).flat()) if (!out.some((seen) => deepEqual(seen, item))) out.push(item);
    return out;
  }
  if (!args.every(isPlainObject)) throw new ArmExpressionError(`union() takes only objects or only arrays, found ${args.map(typeName).join(', ')}`);
  const merge = (into: Record<string, unknown>, from: Record<string, unknown>): Record<string, unknown> => {
    const out = { ...into };
    for (const [k, v] of Object.entries(from)) out[k] = isPlainObject(out[k]) && isPlainObject(v) ? merge(out[k], v) : v;
    return out;
  };
  return (args as Record<string, unknown>[]).reduce(merge, {});
}

/** .NET composite formatting as format() uses it: {0}, {1}, and {{ }} for literal braces. */
function format(args: unknown[]): string {
  const [pattern, ...values] = args;
  return str('format', pattern, 'first argument').replace(/\{\{|\}\}|\{(\d+)(?:[,:][^}]*)?\}/g, (match, index?: string) => {
    if (match === '{{') return '{';
    if (match === '}}') return '}';
    if (match.includes(':') || match.includes(',')) throw new ArmExpressionError(`format(): the placeholder ${match} has a format specifier or width, which Kiln does not apply`);
    const i = Number(index);
    if (i >= values.length) throw new ArmExpressionError(`format(): ${match} has no argument (${values.length} given)`);
    return armString(values[i]);
  });
}

/** ARM's resourceId([subscriptionId], [resourceGroupName], resourceType, name1, …). */
function resourceId(args: unknown[], scope: ArmScope): string {
  const texts = args.map((a, i) => str('resourceId', a, `argument ${i + 1}`));
  const typeAt = texts.findIndex((t) => /^[A-Za-z0-9.]+\/[A-Za-z0-9/]+$/.test(t));
  if (typeAt < 0 || typeAt > 2) throw new ArmExpressionError("resourceId(): expected a resource type such as 'Microsoft.Compute/images' as the first, second or third argument");
  const type = texts[typeAt] ?? '';
  const names = texts.slice(typeAt + 1);
  const segments = type.split('/').slice(1);
  if (names.length !== segments.length) {
    throw new ArmExpressionError(`resourceId(): type ${type} needs ${segments.length} name${segments.length === 1 ? '' : 's'}, found ${names.length}`);
  }
  const before = texts.slice(0, typeAt);
  const subscriptionId = before.length === 2 ? before[0] : scope.subscriptionId;
  const group = before.length >= 1 ? before.at(-1) : scope.resourceGroup.name;
  if (!subscriptionId) throw new ArmExpressionError('resourceId(): the subscription is not known here; give it as the first argument or set the subscription (--subscription)');
  if (!group) throw new ArmExpressionError('resourceId(): the resource group is not known here; give it as an argument, --resource-group, or resourceGroup beside the template in the API');
  const namespace = type.split('/')[0] ?? '';
  const path = segments.map((segment, i) => `${segment}/${names[i] ?? ''}`).join('/');
  return `/subscriptions/${subscriptionId}/resourceGroups/${group}/providers/${namespace}/${path}`;
}

/** A name-based UUID (version 5 layout), deterministic in its arguments (not ARM's exact value). */
function guid(args: unknown[]): string {
  const hex = createHash('sha1').update(args.map((a) => str('guid', a)).join('-')).digest('hex').slice(0, 32).split('');
  hex[12] = '5';
  hex[16] = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** utcNow()'s formats: ARM's default yyyyMMddTHHmmssZ, the standard "u", "s", "o", "d", or a custom .NET pattern. */
function utcNow(args: unknown[], scope: ArmScope): string {
  if (!scope.inParameterDefault) throw new ArmExpressionError("utcNow() can be used only in a parameter's defaultValue");
  arity('utcNow', args, 0, 1);
  const pattern = args.length === 0 ? 'yyyyMMddTHHmmssZ' : str('utcNow', args[0]);
  const d = scope.now;
  const iso = d.toISOString();
  const standard: Record<string, string> = {
    u: `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`,
    s: iso.slice(0, 19),
    o: `${iso.slice(0, 23)}0000Z`,
    d: `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()}`,
  };
  if (pattern.length === 1) {
    const out = standard[pattern];
    if (out === undefined) throw new ArmExpressionError(`utcNow(): the standard format "${pattern}" is not supported; use u, s, o, d or a custom pattern such as yyyyMMdd`);
    return out;
  }
  const pad = (n: number, width: number) => String(n).padStart(width, '0');
  const parts: Record<string, string> = {
    yyyy: pad(d.getUTCFullYear(), 4), yy: pad(d.getUTCFullYear() % 100, 2),
    MM: pad(d.getUTCMonth() + 1, 2), M: String(d.getUTCMonth() + 1),
    dd: pad(d.getUTCDate(), 2), d: String(d.getUTCDate()),
    HH: pad(d.getUTCHours(), 2), H: String(d.getUTCHours()),
    mm: pad(d.getUTCMinutes(), 2), m: String(d.getUTCMinutes()),
    ss: pad(d.getUTCSeconds(), 2), s: String(d.getUTCSeconds()),
    fff: pad(d.getUTCMilliseconds(), 3),
  };
  return pattern.replace(/yyyy|yy|MM|M|dd|d|HH|H|mm|m|ss|s|fff/g, (token) => parts[token] ?? token);
}

function int(value: unknown): number {
  if (typeof value === 'number') return Math.trunc(value);
  if (typeof value === 'string' && /^\s*[-+]?\d+\s*$/.test(value)) return Number.parseInt(value, 10);
  throw new ArmExpressionError(`int(): expected an integer or a string of digits, found ${typeof value === 'string' ? JSON.stringify(value) : typeName(value)}`);
}

/** Every supported function, by lower-case name (ARM function names ignore case). */
export const FUNCTIONS: Readonly<Record<string, ArmFunction>> = {
  parameters: (args, scope) => (arity('parameters', args, 1), scope.parameter(str('parameters', args[0]))),
  variables: (args, scope) => (arity('variables', args, 1), scope.variable(str('variables', args[0]))),
  concat: (args) => {
    if (args.length > 0 && Array.isArray(args[0])) {
      if (!args.every(Array.isArray)) throw new ArmExpressionError(`concat(): the first argument is an array, so every argument must be one, found ${args.map(typeName).join(', ')}`);
      return (args as unknown[][]).flat();
    }
    return args.map((a) => {
      if (isPlainObject(a) || Array.isArray(a)) throw new ArmExpressionError(`concat(): expected strings or arrays, found ${typeName(a)}`);
      return armString(a);
    }).join('');
  },
  format: (args) => (arity('format', args, 1, Infinity), format(args)),
  resourcegroup: (args, scope) => {
    arity('resourceGroup', args, 0);
    const { name, location } = scope.resourceGroup;
    return {
      ...(name && scope.subscriptionId ? { id: `/subscriptions/${scope.subscriptionId}/resourceGroups/${name}` } : {}),
      ...(name ? { name } : {}),
      type: 'Microsoft.Resources/resourceGroups',
      ...(location ? { location } : {}),
    };
  },
  subscription: (args, scope) => {
    arity('subscription', args, 0);
    return scope.subscriptionId ? { id: `/subscriptions/${scope.subscriptionId}`, subscriptionId: scope.subscriptionId } : {};
  },
  resourceid: (args, scope) => (arity('resourceId', args, 2, Infinity), resourceId(args, scope)),
  tolower: (args) => (arity('toLower', args, 1), str('toLower', args[0]).toLowerCase()),
  toupper: (args) => (arity('toUpper', args, 1), str('toUpper', args[0]).toUpperCase()),
  replace: (args) => (arity('replace', args, 3), str('replace', args[0], 'first argument').split(str('replace', args[1], 'second argument')).join(str('replace', args[2], 'third argument'))),
  uniquestring: (args) => (arity('uniqueString', args, 1, Infinity), uniqueString(args.map((a) => str('uniqueString', a)))),
  guid: (args) => (arity('guid', args, 1, Infinity), guid(args)),
  if: (args) => {
    arity('if', args, 3);
    if (typeof args[0] !== 'boolean') throw new ArmExpressionError(`if(): the condition must be a bool, found ${typeName(args[0])}`);
    return args[0] ? args[1] : args[2];
  },
  equals: (args) => (arity('equals', args, 2), deepEqual(args[0], args[1])),
  string: (args) => (arity('string', args, 1), armString(args[0])),
  int: (args) => (arity('int', args, 1), int(args[0])),
  json: (args) => {
    arity('json', args, 1);
    try {
      return JSON.parse(str('json', args[0])) as unknown;
    } catch (error) {
      throw new ArmExpressionError(`json(): not valid JSON: ${(error as Error).message}`);
    }
  },
  createarray: (args) => [...args],
  createobject: (args) => {
    if (args.length % 2 !== 0) throw new ArmExpressionError(`createObject() takes key, value pairs, found ${args.length} arguments`);
    const out: Record<string, unknown> = {};
    for (let i = 0; i < args.length; i += 2) out[str('createObject', args[i], `key ${i / 2 + 1}`)] = args[i + 1];
    return out;
  },
  union: (args) => (arity('union', args, 1, Infinity), union(args)),
  utcnow: utcNow,
  true: (args) => (arity('true', args, 0), true),
  false: (args) => (arity('false', args, 0), false),
  null: (args) => (arity('null', args, 0), null),
};

/** The names as the documentation spells them, for messages. */
export const FUNCTION_NAMES = [
  'parameters', 'variables', 'concat', 'format', 'resourceGroup', 'subscription', 'resourceId', 'toLower', 'toUpper', 'replace',
  'uniqueString', 'guid', 'if', 'equals', 'string', 'int', 'json', 'createArray', 'createObject', 'union', 'utcNow', 'true', 'false', 'null',
] as const;
