import { describe, expect, it } from 'vitest';
import { lastLines, maskSecrets, MASK } from '../../src/activities/masking.ts';

describe('masking', () => {
  it('hides every occurrence of every secret value', () => {
    expect(maskSecrets('user=admin pass=hunter2 again hunter2', ['hunter2'])).toBe(`user=admin pass=${MASK} again ${MASK}`);
  });

  it('hides the longer value whole when one secret contains another', () => {
    expect(maskSecrets('token abc123xyz and abc', ['abc', 'abc123xyz'])).toBe(`token ${MASK} and ${MASK}`);
  });

  it('leaves text alone when there are no secrets, and ignores empty values', () => {
    expect(maskSecrets('plain', [])).toBe('plain');
    expect(maskSecrets('plain', [''])).toBe('plain');
  });

  it('keeps the last non-empty lines', () => {
    expect(lastLines('a\n\nb\r\nc\n', 2)).toEqual(['b', 'c']);
  });
});
