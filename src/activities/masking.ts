/** Hides secret values in script output, log text and error messages before they leave an activity. */

export const MASK = '***';

/** Replaces every occurrence of each value (longest first, so a value containing another is hidden whole). */
export function maskSecrets(text: string, values: Iterable<string>): string {
  const sorted = [...new Set(values)].filter((v) => v.length > 0).sort((a, b) => b.length - a.length);
  let out = text;
  for (const value of sorted) out = out.split(value).join(MASK);
  return out;
}

/** The last `count` non-empty lines of a text (for a failure message). */
export function lastLines(text: string, count: number): string[] {
  return text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .slice(-count);
}
