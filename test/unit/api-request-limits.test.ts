import { describe, expect, it } from 'vitest';
import { deepNestingOffset, shown } from '../../src/api/json-text.ts';
import { markerOf, pageToken } from '../../src/api/page-token.ts';
import { isRunId, retryRunId } from '../../src/runs/ids.ts';

describe('JSON nesting limit', () => {
  it('finds the first bracket past the limit, skipping strings and escaped quotes', () => {
    expect(deepNestingOffset('[[1]]', 2)).toBeUndefined();
    expect(deepNestingOffset('[[[1]]]', 2)).toBe(2);
    expect(deepNestingOffset('{"a":{"b":[1]}}', 2)).toBe(10);
    expect(deepNestingOffset(JSON.stringify({ a: '[[[[\\"[[[[' }), 2)).toBeUndefined();
    expect(deepNestingOffset('['.repeat(100_000), 64)).toBe(64);
  });

  it('shows a found value cut short', () => {
    expect(shown('abc')).toBe('"abc"');
    expect(shown(undefined)).toBe('nothing');
    expect(shown('x'.repeat(1000))).toMatch(/^"x{79}… \(1002 characters\)$/);
  });
});

describe('continuation tokens', () => {
  it('round-trip a marker and refuse anything Kiln did not issue', () => {
    const marker = '2!96!MDAwMDM2IXJ1bnMvdWJ1bnR1LXdlYi0yMDI2MTEyNVQxMzE5MDBaLTAwMDAv';
    expect(markerOf(pageToken(marker), 'continuationToken')).toEqual({ marker });
    for (const bad of ['', '\u0000\u00ff', 'A'.repeat(2000), 'QQ-', pageToken('a\u0001b'), pageToken('a b'), 'ab+/']) {
      const result = markerOf(bad, 'continuationToken');
      expect(result, JSON.stringify(bad)).toHaveProperty('error.path', 'continuationToken');
    }
  });
});

describe('retry run ids', () => {
  it('derive one run id per failed run, shaped like any run id', () => {
    const failed = 'ubuntu-web-20261125T131900Z-3f2a';
    expect(retryRunId(failed)).toBe(retryRunId(failed));
    expect(isRunId(retryRunId(failed))).toBe(true);
    expect(retryRunId(failed)).toMatch(/^ubuntu-web-20261125T131900Z-[0-9a-f]{4}$/);
    expect(retryRunId(failed, 1)).not.toBe(retryRunId(failed));
    expect(retryRunId(retryRunId(failed))).not.toBe(retryRunId(failed));
  });
});
