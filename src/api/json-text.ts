/** Limits on JSON from outside, checked on the text before parsing so no deep document reaches a recursive walker. */

/** Templates nest a handful of levels; anything near this is an attack, not a template. */
export const MAX_JSON_DEPTH = 64;

/** The offset where `text` first nests arrays and objects deeper than `max`, or undefined; strings are skipped. */
export function deepNestingOffset(text: string, max = MAX_JSON_DEPTH): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return i;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return undefined;
}

/** A value as it appears in an error's `found`: JSON, cut to `max` characters so an error never echoes a megabyte. */
export function shown(value: unknown, max = 80): string {
  const text = value === undefined ? 'nothing' : (JSON.stringify(value) ?? String(value));
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}
