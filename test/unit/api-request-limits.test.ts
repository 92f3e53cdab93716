import type { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { deepNestingOffset, shown } from '../../src/api/json-text.ts';
import { MAX_JSON_BODY_BYTES, readJsonBody } from '../../src/api/request.ts';
import { markerOf, pageToken } from '../../src/api/page-token.ts';
import { isRunId, retryRunId } from '../../src/runs/ids.ts';
import { streamingRequest } from '../fixtures/streaming-request.ts';

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

describe('JSON body size limit', () => {
  const SPACE = 0x20;
  const refusal = async (result: Awaited<ReturnType<typeof readJsonBody>>) => {
    expect(result.ok).toBe(false);
    const response = (result as { response: { status: number; body: string } }).response;
    expect(response.status).toBe(413);
    return JSON.parse(response.body) as Record<string, unknown>;
  };

  it('refuses a body whose Content-Length is above 1 MB with 413 without reading any of it', async () => {
    const { request, counter } = streamingRequest({ chunks: 50, chunkBytes: 40_000, fill: SPACE, headers: { 'content-length': '2000000' } });
    expect(await refusal(await readJsonBody(request))).toMatchObject({
      status: 413,
      title: 'Content Too Large',
      type: 'urn:kiln:problem:body-too-large',
      detail: `the body's Content-Length is 2000000 bytes; expected at most ${MAX_JSON_BODY_BYTES} (1 MB)`,
    });
    expect(counter.pulled).toBe(0);
  });

  it('stops reading a body without a Content-Length once it passes 1 MB, and takes one of exactly 1 MB', async () => {
    const over = streamingRequest({ chunks: 50, chunkBytes: 40_000, fill: SPACE });
    expect((await refusal(await readJsonBody(over.request))).detail).toBe(`the body has more than ${MAX_JSON_BODY_BYTES} bytes; expected at most ${MAX_JSON_BODY_BYTES} (1 MB)`);
    // 25 chunks are the limit: the 26th passes it, and the other 24 are never made.
    expect(over.counter.pulled).toBe(26);
    const atLimit = streamingRequest({ chunks: 25, chunkBytes: 40_000, fill: SPACE });
    expect(await readJsonBody(atLimit.request, { optional: true })).toEqual({ ok: true, value: {} });
  });

  it('reads the body as text does: UTF-8 with a leading byte order mark dropped', async () => {
    const request = { headers: new Headers(), body: new Response('\uFEFF{"name": "web ✓"}').body } as unknown as HttpRequest;
    expect(await readJsonBody(request)).toEqual({ ok: true, value: { name: 'web ✓' } });
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
