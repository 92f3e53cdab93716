/** Refuses JSON nested deeper than any template needs, before the recursive walkers (schema, ARM, read-only) see it. */

import type { TemplateError } from './spec.ts';

/** Image templates nest about ten levels; ARM deployments a few more. */
export const MAX_JSON_DEPTH = 64;

/** An error when `value` nests deeper than MAX_JSON_DEPTH; measured without recursion, so any depth is safe. */
export function depthError(value: unknown): TemplateError | undefined {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop() as { value: unknown; depth: number };
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= MAX_JSON_DEPTH) {
      return { path: '$', message: `nests deeper than ${MAX_JSON_DEPTH} levels`, expected: `at most ${MAX_JSON_DEPTH} levels of objects and arrays`, found: 'deeper nesting' };
    }
    for (const child of Array.isArray(current) ? current : Object.values(current)) stack.push({ value: child, depth: depth + 1 });
  }
  return undefined;
}
