/** HTTP trigger route templates as Functions (ASP.NET routing) reads them: `builds/{id}`, `{id?}`, `{id:int}`, `{*rest}`. */

type Constraint = (value: string) => boolean;

interface RouteParam {
  name: string;
  optional: boolean;
  catchAll: boolean;
  constraints: Constraint[];
}

export interface CompiledRoute {
  template: string;
  /** Sort key: lower wins (literal segments before constrained, plain, optional and catch-all parameters). */
  precedence: number[];
  match(path: string): Record<string, string> | undefined;
}

const GUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function numberArg(args: string, constraint: string, template: string): number[] {
  const values = args.split(',').map((part) => Number(part.trim()));
  if (values.some((value) => !Number.isFinite(value))) {
    throw new Error(`route '${template}': constraint ${constraint} expects numbers, found '${args}'`);
  }
  return values;
}

function parseConstraint(text: string, template: string): Constraint {
  const match = /^(\w+)(?:\((.*)\))?$/s.exec(text);
  if (!match) throw new Error(`route '${template}': cannot read the constraint '${text}'`);
  const [, name = '', args = ''] = match;
  switch (name.toLowerCase()) {
    case 'int':
    case 'long':
      return (v) => /^-?\d+$/.test(v);
    case 'double':
    case 'decimal':
    case 'float':
      return (v) => v.trim() !== '' && Number.isFinite(Number(v));
    case 'bool':
      return (v) => /^(true|false)$/i.test(v);
    case 'alpha':
      return (v) => /^[a-z]+$/i.test(v);
    case 'guid':
      return (v) => GUID.test(v);
    case 'regex': {
      const regex = new RegExp(args, 'i');
      return (v) => regex.test(v);
    }
    case 'minlength': {
      const [min = 0] = numberArg(args, name, template);
      return (v) => v.length >= min;
    }
    case 'maxlength': {
      const [max = 0] = numberArg(args, name, template);
      return (v) => v.length <= max;
    }
    case 'length': {
      const [a = 0, b] = numberArg(args, name, template);
      return b === undefined ? (v) => v.length === a : (v) => v.length >= a && v.length <= b;
    }
    case 'min': {
      const [min = 0] = numberArg(args, name, template);
      return (v) => /^-?\d+$/.test(v) && Number(v) >= min;
    }
    case 'max': {
      const [max = 0] = numberArg(args, name, template);
      return (v) => /^-?\d+$/.test(v) && Number(v) <= max;
    }
    case 'range': {
      const [min = 0, max = 0] = numberArg(args, name, template);
      return (v) => /^-?\d+$/.test(v) && Number(v) >= min && Number(v) <= max;
    }
    default:
      throw new Error(
        `route '${template}': unknown constraint '${name}' (supported: int, long, double, bool, alpha, guid, regex, ` +
          'minlength, maxlength, length, min, max, range)',
      );
  }
}

/** Route values arrive percent-encoded; a malformed escape means the route does not match. */
function decodeSegment(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Splits `{name:int:min(1)?}` into its parts (the regex constraint may itself hold ':' and braces). */
function parseParam(body: string, template: string): RouteParam {
  let text = body;
  const catchAll = text.startsWith('*');
  if (catchAll) text = text.replace(/^\*+/, '');
  const optional = text.endsWith('?');
  if (optional) text = text.slice(0, -1);
  const [name = '', ...rest] = text.split(/:(?![^(]*\))/);
  if (!/^\w+$/.test(name)) throw new Error(`route '${template}': expected a parameter name in '{${body}}', found '${name}'`);
  if (rest.some((part) => part.includes('='))) {
    throw new Error(`route '${template}': default values ('{${body}}') are not supported by the local host`);
  }
  return { name, optional, catchAll, constraints: rest.map((part) => parseConstraint(part, template)) };
}

/** Compiles a route template (without the route prefix) into a matcher over a raw (still percent-encoded) path without slashes at the ends. */
export function compileRoute(template: string): CompiledRoute {
  const segments = template.replace(/^\/+|\/+$/g, '').split('/').filter((segment) => segment !== '');
  const params: RouteParam[] = [];
  const precedence: number[] = [];
  let pattern = '^';
  segments.forEach((segment, index) => {
    const parts = segment.split(/(\{(?:[^{}]|\([^)]*\))+\})/).filter((part) => part !== '');
    const separator = index === 0 ? '' : '/';
    const single = parts.length === 1 && parts[0]!.startsWith('{') ? parseParam(parts[0]!.slice(1, -1), template) : undefined;
    if (single) {
      params.push(single);
      const group = single.catchAll ? '(.*)' : '([^/]+)';
      pattern += single.optional || single.catchAll ? `(?:${separator}${group})?` : `${separator}${group}`;
      precedence.push(single.catchAll ? 5 : single.optional ? 4 : single.constraints.length ? 2 : 3);
      return;
    }
    pattern += separator;
    let literalOnly = true;
    for (const part of parts) {
      if (part.startsWith('{')) {
        const param = parseParam(part.slice(1, -1), template);
        if (param.catchAll || param.optional) {
          throw new Error(`route '${template}': '${part}' must be a whole segment to be optional or catch-all`);
        }
        params.push(param);
        pattern += '([^/]+?)';
        literalOnly = false;
      } else {
        pattern += escapeRegex(part);
      }
    }
    precedence.push(literalOnly ? 1 : 2);
  });
  const regex = new RegExp(`${pattern}$`, 'i');
  return {
    template,
    precedence,
    match(path) {
      const found = regex.exec(path);
      if (!found) return undefined;
      const values: Record<string, string> = {};
      for (const [i, param] of params.entries()) {
        const raw = found[i + 1];
        if (raw === undefined || raw === '') {
          if (!param.optional && !param.catchAll) return undefined;
          continue;
        }
        const value = decodeSegment(raw);
        if (value === undefined || !param.constraints.every((check) => check(value))) return undefined;
        values[param.name] = value;
      }
      return values;
    },
  };
}

/** Orders routes so the most specific template is tried first, as ASP.NET routing does. */
export function byPrecedence(a: CompiledRoute, b: CompiledRoute): number {
  const length = Math.max(a.precedence.length, b.precedence.length);
  for (let i = 0; i < length; i++) {
    const diff = (a.precedence[i] ?? 0) - (b.precedence[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return b.precedence.length - a.precedence.length;
}
