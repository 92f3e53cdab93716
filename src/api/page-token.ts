/**
 * The API's continuation tokens: the store's listing marker wrapped in base64url, so a token is checked (charset,
 * length, round trip) before it reaches storage and a forged one is a 400, not a slow storage error.
 */
import type { TemplateError } from '../template/spec.ts';
import { shown } from './json-text.ts';

const MAX_TOKEN_CHARS = 1024;
const TOKEN = /^[A-Za-z0-9_-]+$/;
/** Markers from Azure Storage and Azurite are printable ASCII (an opaque base64 string or a blob name). */
const MARKER = /^[\x21-\x7e]+$/;

export function pageToken(marker: string): string {
  return Buffer.from(marker, 'utf8').toString('base64url');
}

/** The marker a token carries, or the error saying what is wrong with it (`path` names the query parameter). */
export function markerOf(token: string, path: string): { marker: string } | { error: TemplateError } {
  const expected = `a continuationToken from a previous page (base64url, at most ${MAX_TOKEN_CHARS} characters)`;
  if (token.length > MAX_TOKEN_CHARS || !TOKEN.test(token)) {
    return { error: { path, message: 'not a continuation token', expected, found: shown(token) } };
  }
  const marker = Buffer.from(token, 'base64url').toString('utf8');
  if (!MARKER.test(marker) || pageToken(marker) !== token) {
    return { error: { path, message: 'not a continuation token Kiln issued', expected, found: shown(token) } };
  }
  return { marker };
}
