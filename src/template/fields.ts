/** zod schemas for the single-value formats templates use (ARM ids, https URIs, checksums, versions, durations, cron). */

import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { namesForbiddenAddress } from './addresses.ts';
import { ARM_TYPES, parseArmIdOf, type ArmKind } from './arm-id.ts';
import { ISO_DURATION_EXPECTED, parseAibDuration, parseIsoDuration } from './duration.ts';
import { normalizeRegion } from '../azure/regions.ts';

export { normalizeRegion };

export const VERSION = /^\d+\.\d+\.\d+$/;

/** A string that must pass `test`; otherwise the error says what was expected. */
function formatted(test: (value: string) => boolean, message: string, expected: string) {
  return z.string().refine(test, { message, params: { expected } });
}

/** A string matching `re`; otherwise the error says what was expected. */
export function matching(re: RegExp, message: string, expected: string) {
  return formatted((v) => re.test(v), message, expected);
}

export const nonEmpty = formatted((v) => v.trim() !== '', 'must not be empty', 'a non-empty string');

export function armIdOf(kind: ArmKind, what: string) {
  return formatted((v) => parseArmIdOf(kind, v) !== undefined, `must be the ARM id of ${what}`, ARM_TYPES[kind].example);
}

export const galleryImageOrVersionId = formatted(
  (v) => parseArmIdOf('galleryImage', v) !== undefined || VERSION.test(parseArmIdOf('galleryImageVersion', v)?.names[2] ?? ''),
  'must be the ARM id of a gallery image definition, or of an image version Major.Minor.Patch',
  `${ARM_TYPES.galleryImage.example}[/versions/{Major.Minor.Patch}]`,
);

/** A source image version: as above, or `/versions/latest`, which the plan resolves to the newest version. */
export const sourceImageVersionId = formatted(
  (v) => parseArmIdOf('galleryImage', v) !== undefined || /^(latest|\d+\.\d+\.\d+)$/.test(parseArmIdOf('galleryImageVersion', v)?.names[2] ?? ''),
  'must be the ARM id of a gallery image definition, or of an image version Major.Minor.Patch or latest',
  `${ARM_TYPES.galleryImage.example}[/versions/{Major.Minor.Patch|latest}]`,
);

/** Build VMs and webhooks never reach link-local or metadata addresses (src/template/addresses.ts). */
export const NOT_METADATA = {
  message: 'must not point at a link-local or metadata address',
  params: { expected: 'a public (or, where allowed, private) host' },
};

const isHttps = (v: string) => URL.canParse(v) && new URL(v).protocol === 'https:';

/** An https URI that names no metadata address, or a value `other` accepts as it is (not read as a URI). */
export function httpsUriOr(other: (value: string) => boolean, message: string, expected: string) {
  return formatted((v) => other(v) || isHttps(v), message, expected).refine((v) => other(v) || !namesForbiddenAddress(v), NOT_METADATA);
}

export const httpsUri = httpsUriOr(() => false, 'must be an https URI', 'https://…');

/** The VHD distribution's uri: "" means a Kiln-chosen blob, as AIB reads it. */
export const httpsUriOrEmpty = httpsUriOr((v) => v === '', 'must be an https URI (or "" for a Kiln-chosen blob)', 'https://…');

/** A webhook URL: https, or http to a loopback host so local receivers work without TLS. */
export const webhookUri = formatted(
  (v) => {
    if (!URL.canParse(v)) return false;
    const url = new URL(v);
    return url.protocol === 'https:' || (url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname));
  },
  'must be an https URL (http only to 127.0.0.1 or localhost)',
  'https://…',
).refine((v) => !namesForbiddenAddress(v), NOT_METADATA);

export const SHA256 = /^[0-9a-fA-F]{64}$/;
/** A SHA-256 checksum; "" means none, as AIB reads it. */
export const sha256 = formatted((v) => v === '' || SHA256.test(v), 'must be a SHA-256 checksum', '64 hexadecimal characters (or "" for none)');


export const platformVersion = formatted(
  (v) => v === 'latest' || VERSION.test(v),
  "must be 'latest' or a version Major.Minor.Patch",
  "'latest' or Major.Minor.Patch",
);

export const isoDuration = formatted((v) => parseIsoDuration(v) !== undefined, 'must be an ISO 8601 duration', ISO_DURATION_EXPECTED);

/** "" means the default, as AIB reads it. */
export const aibDuration = formatted(
  (v) => v === '' || parseAibDuration(v) !== undefined,
  'must be a duration',
  'an ISO 8601 duration (PT10M) or AIB form (10m, 1h30m)',
);

/** NCRONTAB as Azure Functions timers use it: exactly six fields, seconds first. */
export const ncrontab = formatted(
  (v) => {
    if (v.trim().split(/\s+/).length !== 6) return false;
    try {
      CronExpressionParser.parse(v);
      return true;
    } catch {
      return false;
    }
  },
  'must be a 6-field NCRONTAB expression',
  '"{second} {minute} {hour} {day} {month} {day-of-week}", e.g. "0 0 3 * * 0"',
);

export const RUN_OUTPUT_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
export const runOutputName = formatted(
  (v) => RUN_OUTPUT_NAME.test(v),
  'must be a run output name',
  '1-64 letters, digits, "-", "_" or "."',
);

/** Azure region name as ARM writes it; "West Europe" is accepted and normalized later. */
export const region = formatted(
  (v) => /^[a-z][a-z0-9]*$/.test(normalizeRegion(v)),
  'must be an Azure region name',
  'a region such as eastus or westeurope',
);


export const TEMPLATE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const TEMPLATE_NAME_EXPECTED = '1-64 letters, digits, "-", "_" or ".", starting with a letter or digit';

export const SECRET_VARIABLE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const SECRET_VARIABLE_EXPECTED = 'an environment variable name, e.g. DB_PASSWORD';
export const VAULT_NAME = /^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$/;
export const SECRET_NAME = /^[0-9A-Za-z-]{1,127}$/;
export const SECRET_VERSION = /^[0-9a-fA-F]{32}$/;

/** `https://{vault}.vault.azure.net/secrets/{name}[/{version}]` (and the sovereign clouds' vault domains). */
const SECRET_URI =
  /^https:\/\/([A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9])\.vault\.(?:azure\.net|azure\.cn|usgovcloudapi\.net|microsoftazure\.de)(?::443)?\/secrets\/([0-9A-Za-z-]{1,127})(?:\/([0-9a-fA-F]{32}))?\/?$/;

export function parseSecretUri(uri: string): { vault: string; name: string; version?: string } | undefined {
  const m = SECRET_URI.exec(uri);
  if (!m) return undefined;
  const [, vault = '', name = '', ver] = m;
  return ver ? { vault, name, version: ver } : { vault, name };
}

export const secretUri = formatted(
  (v) => parseSecretUri(v) !== undefined,
  'must be a Key Vault secret URI',
  'https://{vault}.vault.azure.net/secrets/{name}[/{version}]',
);
