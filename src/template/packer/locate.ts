/** Line numbers for notes and errors: where a block or one of its fields starts in the user's file. */

import type { Location } from './model.ts';

/** The 1-based line of a character offset. */
export function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i += 1) if (text.charCodeAt(i) === 10) line += 1;
  return line;
}

function escape(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A field finder for a block starting at `offset`: the first `"field":` (JSON) or `field =` / `field {` (HCL) after it. */
export function fieldFinder(file: string, text: string, offset: number, syntax: 'json' | 'hcl'): (field: string) => Location {
  return (field) => {
    const pattern = syntax === 'json' ? new RegExp(`"${escape(field)}"\\s*:`, 'g') : new RegExp(`^[ \\t]*${escape(field)}[ \\t]*[={]`, 'gm');
    pattern.lastIndex = offset;
    const match = pattern.exec(text);
    return `${file}:${lineOf(text, match ? match.index : offset)}`;
  };
}
