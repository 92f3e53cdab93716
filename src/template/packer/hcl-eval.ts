/** Evaluates the HCL2 expressions hcl2json leaves as `${…}` strings: var.x, local.x, path.root, operators and HCL_FUNCTIONS. */

import { getExpressionAst, type TFExpressionSyntaxTree } from '@cdktn/hcl2json';
import { HCL_FUNCTIONS } from './hcl-functions.ts';
import { refuse, type EnvironmentRead, type Location } from './model.ts';

type Node = TFExpressionSyntaxTree.ExpressionType;

/** A value that is still an expression, and where it was written. */
export interface Pending {
  value: unknown;
  at: Location;
  /** The variable whose default this is: env() is allowed here. */
  variableDefault?: string;
}

export interface EvalScope {
  now: Date;
  env: Record<string, string | undefined>;
  /** The directory of the template (path.root). */
  root: string;
  variables: Map<string, { pending?: Pending; given?: unknown; at: Location; sensitive?: boolean }>;
  locals: Map<string, Pending>;
  /** Collects each env() read of a variable that is set: its value came from the user's shell. */
  environment: EnvironmentRead[];
  /** The source being built (source.name, source.type), known once the build's source is read. */
  source?: { name: string; type: string };
}

/** Undoes HCL's string escapes in a literal the AST hands back as written. */
function unescape(raw: string): string {
  return raw
    .replace(/\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[nrt"\\])/g, (_m, e: string) => {
      if (e.startsWith('u') || e.startsWith('U')) return String.fromCodePoint(parseInt(e.slice(1), 16));
      return ({ n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' } as Record<string, string>)[e]!;
    })
    .replaceAll('$${', '${')
    .replaceAll('%%{', '%{');
}

/** hcl2json's decoded string back to HCL template source: escapes outside `${…}`, interpolations as written. */
function templateSource(value: string): string {
  let out = '"';
  let i = 0;
  while (i < value.length) {
    if (value.startsWith('$${', i) || value.startsWith('%%{', i)) {
      out += value.slice(i, i + 3);
      i += 3;
      continue;
    }
    if (value.startsWith('${', i)) {
      let j = i + 2;
      let depth = 0;
      let inString = false;
      for (; j < value.length; j += 1) {
        const c = value[j];
        if (inString) {
          if (c === '\\') j += 1;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === '{') depth += 1;
        else if (c === '}') {
          if (depth === 0) break;
          depth -= 1;
        }
      }
      out += value.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const c = value[i]!;
    out += ({ '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' } as Record<string, string>)[c] ?? c;
    i += 1;
  }
  return `${out}"`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asText(value: unknown, at: Location): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return refuse('InvalidExpression', at, `a list or object cannot be interpolated into a string (found ${JSON.stringify(value)?.slice(0, 60)})`);
}

const OPERATORS: Record<string, (a: unknown, b: unknown) => unknown> = {
  add: (a, b) => Number(a) + Number(b), subtract: (a, b) => Number(a) - Number(b), multiply: (a, b) => Number(a) * Number(b),
  divide: (a, b) => Number(a) / Number(b), modulo: (a, b) => Number(a) % Number(b),
  equal: (a, b) => JSON.stringify(a) === JSON.stringify(b), notEqual: (a, b) => JSON.stringify(a) !== JSON.stringify(b),
  and: (a, b) => Boolean(a) && Boolean(b), or: (a, b) => Boolean(a) || Boolean(b),
  greaterThan: (a, b) => Number(a) > Number(b), greaterThanOrEqual: (a, b) => Number(a) >= Number(b),
  lessThan: (a, b) => Number(a) < Number(b), lessThanOrEqual: (a, b) => Number(a) <= Number(b),
};

/** Maps one after another: a variable being resolved must not be met again by a sibling running beside it (a false cycle). */
export async function inOrder<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const item of items) out.push(await fn(item));
  return out;
}

export class HclEvaluator {
  readonly #scope: EvalScope;
  #resolving = new Set<string>();
  #done = new Map<string, unknown>();

  constructor(scope: EvalScope) {
    this.#scope = scope;
  }

  /** Evaluates a value from hcl2json: strings holding `${…}` are expressions, containers are walked. */
  async value(pending: Pending): Promise<unknown> {
    const { value, at } = pending;
    if (typeof value === 'string') {
      // hcl2json decodes a plain string's escapes but keeps $${ and %%{ as written.
      if (!value.includes('${')) return value.replaceAll('$${', '${').replaceAll('%%{', '%{');
      return this.#expression(templateSource(value), pending);
    }
    if (Array.isArray(value)) return inOrder(value, (item) => this.value({ ...pending, value: item }));
    if (isObject(value)) {
      const entries = await inOrder(Object.entries(value), async ([k, v]) => [k, await this.value({ ...pending, value: v })] as const);
      return Object.fromEntries(entries);
    }
    return value;
  }

  async #expression(source: string, pending: Pending): Promise<unknown> {
    let ast: Node | null;
    try {
      ast = await getExpressionAst(pending.at, source);
    } catch (error) {
      return refuse('InvalidExpression', pending.at, `cannot read the expression ${source}: ${(error as Error).message}`);
    }
    if (!ast) return refuse('InvalidExpression', pending.at, `cannot read the expression ${source}`);
    return this.#node(ast, source, pending);
  }

  async #node(node: Node, source: string, pending: Pending): Promise<unknown> {
    const at = pending.at;
    const kids = node.children;
    switch (node.type) {
      case 'templateWrap':
        return this.#node(kids[0]!, source, pending);
      case 'template': {
        const parts = await inOrder(kids, (k) => this.#node(k, source, pending));
        return parts.map((p) => asText(p, at)).join('');
      }
      case 'literalValue': {
        const { type, value } = node.meta;
        if (type === 'number') return Number(value);
        if (type === 'bool') return value === 'true';
        if (type === 'null') return null;
        return unescape(value);
      }
      case 'tuple':
        return inOrder(kids, (k) => this.#node(k, source, pending));
      case 'object': {
        const out: Record<string, unknown> = {};
        for (let i = 0; i + 1 < kids.length; i += 2) {
          const keyNode = kids[i]!;
          const keyText = source.slice(keyNode.range.start.byte, keyNode.range.end.byte).trim();
          const key = keyText.startsWith('"') ? asText(await this.#node(keyNode.children[0] ?? keyNode, source, pending), at) : keyText;
          out[key] = await this.#node(kids[i + 1]!, source, pending);
        }
        return out;
      }
      case 'scopeTraversal':
        return this.#traverse(node.meta.traversal.map((t) => t.segment), at);
      case 'function': {
        const name = node.meta.name;
        const fn = HCL_FUNCTIONS[name];
        if (!fn) return refuse('UnsupportedFunction', at, `function ${name}() is not one Kiln evaluates (supported: ${Object.keys(HCL_FUNCTIONS).join(', ')})`);
        const args = await inOrder(kids, (k) => this.#node(k, source, pending));
        try {
          const result = fn(args, { now: this.#scope.now, env: this.#scope.env, inVariableDefault: pending.variableDefault !== undefined });
          // env() ran, so this is a variable's default.
          if (name === 'env' && this.#scope.env[String(args[0])] !== undefined) this.#scope.environment.push({ env: String(args[0]), variable: pending.variableDefault!, at });
          return result;
        } catch (error) {
          return refuse('InvalidExpression', at, (error as Error).message);
        }
      }
      case 'conditional': {
        const test = await this.#node(kids[0]!, source, pending);
        return this.#node(kids[test ? 1 : 2]!, source, pending);
      }
      case 'binaryOp': {
        const op = OPERATORS[node.meta.operator];
        if (!op) return refuse('UnsupportedExpression', at, `operator ${node.meta.operator} in ${node.meta.value}`);
        return op(await this.#node(kids[0]!, source, pending), await this.#node(kids[1]!, source, pending));
      }
      case 'unaryOp': {
        const value = await this.#node(kids[0]!, source, pending);
        return node.meta.operator === 'negate' ? -Number(value) : !value;
      }
      case 'index': {
        const collection = await this.#node(kids[0]!, source, pending);
        const key = await this.#node(kids[1]!, source, pending);
        return this.#index(collection, key, node.meta.value, at);
      }
      default:
        return refuse('UnsupportedExpression', at, `${node.type} expressions (${node.meta?.value ?? source}) are not evaluated by Kiln; use a variable or local with a plain value`);
    }
  }

  #index(collection: unknown, key: unknown, what: string, at: Location): unknown {
    const found = Array.isArray(collection) ? collection[Number(key)] : isObject(collection) ? collection[String(key)] : undefined;
    if (found === undefined) return refuse('InvalidExpression', at, `${what}: no element ${JSON.stringify(key)}`);
    return found;
  }

  async #traverse(segments: string[], at: Location): Promise<unknown> {
    const [root, name, ...rest] = segments;
    let value: unknown;
    if (root === 'var' && name !== undefined) value = await this.variable(name, at);
    else if (root === 'local' && name !== undefined) value = await this.#local(name, at);
    else if (root === 'path' && (name === 'root' || name === 'cwd')) value = name === 'root' ? this.#scope.root : process.cwd();
    else if (root === 'source' && this.#scope.source && (name === 'name' || name === 'type')) value = this.#scope.source[name];
    else return refuse('UnsupportedExpression', at, `${segments.join('.')}: Kiln resolves var.*, local.*, path.root, and source.name/source.type in provisioners`);
    for (const segment of rest) value = this.#index(value, segment.startsWith('"') ? JSON.parse(segment) : segment, segments.join('.'), at);
    return value;
  }

  /** A variable's value: --var / --var-file first, then its default; a variable with neither is an error where it is used. */
  async variable(name: string, at: Location): Promise<unknown> {
    const key = `var.${name}`;
    if (this.#done.has(key)) return this.#done.get(key);
    const declared = this.#scope.variables.get(name);
    if (!declared) return refuse('UndefinedVariable', at, `var.${name}: no variable "${name}" is declared`);
    // Outside the credential fields a value lands in the stored template and the run record: no place for a secret.
    if (declared.sensitive) return refuse('SensitiveVariable', at, `var.${name} is sensitive: Kiln keeps secrets in Key Vault; name it in the template's "secrets" and read it from the environment in the script`);
    if ('given' in declared && declared.given !== undefined) return declared.given;
    if (!declared.pending) return refuse('MissingVariable', declared.at, `variable "${name}" has no default and no value: give --var ${name}=VALUE or a --var-file`);
    return this.#once(key, declared.pending);
  }

  async #local(name: string, at: Location): Promise<unknown> {
    const pending = this.#scope.locals.get(name);
    if (!pending) return refuse('UndefinedLocal', at, `local.${name}: no local "${name}" is declared`);
    return this.#once(`local.${name}`, pending);
  }

  async #once(key: string, pending: Pending): Promise<unknown> {
    if (this.#done.has(key)) return this.#done.get(key);
    if (this.#resolving.has(key)) return refuse('ReferenceCycle', pending.at, `${key} refers to itself`);
    this.#resolving.add(key);
    const value = await this.value(pending);
    this.#resolving.delete(key);
    this.#done.set(key, value);
    return value;
  }
}
