/** Evaluates ARM expressions: one parsed expression, or every string of a JSON value, each error tied to its JSON path. */

import { formatPath } from '../errors.ts';
import type { TemplateError } from '../spec.ts';
import { ArmExpressionError, classify, parseExpression, type Expr } from './expression.ts';
import { FUNCTION_NAMES, FUNCTIONS, isPlainObject, typeName, type ArmScope } from './functions.ts';

function property(target: unknown, name: string, expr: Expr): unknown {
  if (!isPlainObject(target)) throw new ArmExpressionError(`cannot read .${name} of ${typeName(target)}`, 'at' in expr ? expr.at : undefined);
  if (name in target) return target[name];
  // ARM property names ignore case.
  const key = Object.keys(target).find((k) => k.toLowerCase() === name.toLowerCase());
  if (key !== undefined) return target[key];
  if (expr.kind === 'property' && expr.target.kind === 'call') {
    const fn = expr.target.name.toLowerCase();
    if (fn === 'resourcegroup') {
      throw new ArmExpressionError(`resourceGroup().${name} is not known: Kiln deploys into no resource group; give --location (for .location) or --resource-group (for .name), or location / resourceGroup beside the template in the API`, expr.at);
    }
    if (fn === 'subscription') throw new ArmExpressionError(`subscription().${name} is not known: give --subscription`, expr.at);
  }
  const known = Object.keys(target);
  throw new ArmExpressionError(`the object has no property "${name}"${known.length ? ` (it has ${known.join(', ')})` : ''}`, 'at' in expr ? expr.at : undefined);
}

function index(target: unknown, at: unknown, expr: Expr): unknown {
  const pos = 'at' in expr ? expr.at : undefined;
  if (Array.isArray(target)) {
    if (typeof at !== 'number' || !Number.isInteger(at)) throw new ArmExpressionError(`an array index must be an int, found ${typeName(at)}`, pos);
    if (at < 0 || at >= target.length) throw new ArmExpressionError(`index ${at} is outside the array (length ${target.length})`, pos);
    return target[at];
  }
  if (isPlainObject(target) && typeof at === 'string') return property(target, at, expr);
  throw new ArmExpressionError(`cannot index ${typeName(target)} with ${typeName(at)}`, pos);
}

/** Evaluates a parsed expression; `if` evaluates only the branch it takes. */
export function evaluate(expr: Expr, scope: ArmScope): unknown {
  switch (expr.kind) {
    case 'string':
    case 'number':
      return expr.value;
    case 'property':
      return property(evaluate(expr.target, scope), expr.name, expr);
    case 'index':
      return index(evaluate(expr.target, scope), evaluate(expr.index, scope), expr);
    case 'call': {
      const name = expr.name.toLowerCase();
      const fn = FUNCTIONS[name];
      if (!fn) throw new ArmExpressionError(`unknown function ${expr.name}(); Kiln evaluates ${FUNCTION_NAMES.join(', ')}`, expr.at);
      if (name === 'if' && expr.args.length === 3) {
        const [condition, yes, no] = expr.args as [Expr, Expr, Expr];
        const value = evaluate(condition, scope);
        if (typeof value !== 'boolean') throw new ArmExpressionError(`if(): the condition must be a bool, found ${typeName(value)}`, expr.at);
        return evaluate(value ? yes : no, scope);
      }
      const args = expr.args.map((arg) => evaluate(arg, scope));
      try {
        return fn(args, scope);
      } catch (error) {
        if (error instanceof ArmExpressionError && error.at === undefined) throw new ArmExpressionError(error.message, expr.at);
        throw error;
      }
    }
  }
}

/** One string of a template: a literal (with `[[` unescaped) or an expression's value. */
export function evaluateString(text: string, scope: ArmScope): unknown {
  const kind = classify(text);
  return 'literal' in kind ? kind.literal : evaluate(parseExpression(kind.expression), scope);
}

/** An error about one expression, naming it and where it sits. */
export function expressionError(text: string, path: readonly PropertyKey[], error: unknown): TemplateError {
  if (!(error instanceof ArmExpressionError)) throw error;
  const where = error.at !== undefined ? ` (at character ${error.at + 1} of the expression)` : '';
  const shown = text.length > 200 ? `${text.slice(0, 197)}...` : text;
  return { path: formatPath(path), message: `cannot evaluate ${shown}: ${error.message}${where}` };
}

/** A property name may be an expression too (ARM templates key userAssignedIdentities by resourceId(…)); it must give a string. */
function evaluateKey(key: string, path: readonly PropertyKey[], scope: ArmScope, errors: TemplateError[]): string {
  try {
    const value = evaluateString(key, scope);
    if (typeof value !== 'string') throw new ArmExpressionError(`a property name must be a string, found ${typeName(value)}`);
    return value;
  } catch (error) {
    errors.push(expressionError(key, [...path, key], error));
    return key;
  }
}

/** Evaluates every string in `value`, property names included; every failing expression is one error. */
export function evaluateTree(value: unknown, path: readonly PropertyKey[], scope: ArmScope, errors: TemplateError[]): unknown {
  if (typeof value === 'string') {
    try {
      return evaluateString(value, scope);
    } catch (error) {
      errors.push(expressionError(value, path, error));
      return value;
    }
  }
  if (Array.isArray(value)) return value.map((item, i) => evaluateTree(item, [...path, i], scope, errors));
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [evaluateKey(k, path, scope, errors), evaluateTree(v, [...path, k], scope, errors)]));
  }
  return value;
}
