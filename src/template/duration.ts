/** Durations in templates: ISO 8601 (`PT30M`), and AIB's Go form (`5m`, `1h30m`) where AIB itself uses it. */

import type { Duration } from './spec.ts';

// Years and months have no fixed length, so only weeks, days and time parts are accepted.
const ISO = /^P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?!$)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
const GO = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const ISO_DURATION_EXPECTED = 'an ISO 8601 duration in weeks, days, hours, minutes or seconds, e.g. PT30M';

/** Parses an ISO 8601 duration, or returns undefined. */
export function parseIsoDuration(text: string): Duration | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  const [, w = '0', d = '0', h = '0', min = '0', s = '0'] = m;
  const ms = Number(w) * 7 * DAY + Number(d) * DAY + Number(h) * HOUR + Number(min) * MINUTE + Number(s) * SECOND;
  return Number.isFinite(ms) ? { iso: text, ms: Math.round(ms) } : undefined;
}

/** Parses AIB's Go-style duration (`10m`, `1h30m`, `90s`) or an ISO one; the result always carries an ISO string. */
export function parseAibDuration(text: string): Duration | undefined {
  const iso = parseIsoDuration(text);
  if (iso) return iso;
  const m = text === '' ? null : GO.exec(text);
  if (!m) return undefined;
  const [, h = '0', min = '0', s = '0'] = m;
  const ms = Math.round(Number(h) * HOUR + Number(min) * MINUTE + Number(s) * SECOND);
  return { iso: isoFromMs(ms), ms };
}

/** Writes milliseconds as an ISO 8601 time duration, e.g. 5400000 → PT1H30M. */
export function isoFromMs(ms: number): string {
  const h = Math.floor(ms / HOUR);
  const min = Math.floor((ms % HOUR) / MINUTE);
  const s = (ms % MINUTE) / SECOND;
  const parts = `${h ? `${h}H` : ''}${min ? `${min}M` : ''}${s ? `${s}S` : ''}`;
  return `PT${parts || '0S'}`;
}
