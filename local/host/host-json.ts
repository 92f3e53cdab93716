/**
 * Reads the host.json settings the local host honours: functionTimeout, route prefix, the durableTask limits and
 * which existing instances a start may replace.
 */
import { readFile } from 'node:fs/promises';

export interface HostSettings {
  /** Undefined = no limit (functionTimeout "-1"). */
  functionTimeoutMs: number | undefined;
  /** The text as written, for error messages ("00:10:00"). */
  functionTimeoutText: string | undefined;
  routePrefix: string;
  hubName: string;
  maxConcurrentActivityFunctions: number;
  maxConcurrentOrchestratorFunctions: number;
  /**
   * extensions.durableTask.overridableExistingInstanceStates: a client's start with the id of an instance that exists
   * replaces it in any state (AnyState, the extension's default) or only once it has ended (NonRunningStates).
   */
  overridableExistingInstanceStates: OverridableStates;
}

export type OverridableStates = 'AnyState' | 'NonRunningStates';

/** Values the Functions host uses when host.json says nothing (Flex Consumption: 30 minutes). */
const DEFAULTS = {
  functionTimeoutText: '00:30:00',
  routePrefix: 'api',
  hubName: 'TestHubName',
  maxConcurrentActivityFunctions: 10,
  maxConcurrentOrchestratorFunctions: 10,
  overridableExistingInstanceStates: 'AnyState' as OverridableStates,
};

/** Parses a .NET TimeSpan as host.json writes it: `[d.]hh:mm:ss[.fff]`. */
export function parseTimeSpan(text: string, field: string): number {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?$/.exec(text.trim());
  if (!match) throw new Error(`${field}: expected a TimeSpan like "00:05:00" or "1.00:00:00", found ${JSON.stringify(text)}`);
  const [, days = '0', hours = '0', minutes = '0', seconds = '0', fraction = ''] = match;
  const ms = fraction ? Number(`0.${fraction}`) * 1000 : 0;
  return ((Number(days) * 24 + Number(hours)) * 60 + Number(minutes)) * 60_000 + Number(seconds) * 1000 + Math.round(ms);
}

/** Replaces every `%NAME%` with the setting NAME, as the Functions host does in binding and host.json values. */
export function resolveSettingReferences(text: string, settings: Record<string, string | undefined>, field: string): string {
  return text.replace(/%([^%]+)%/g, (_whole, name: string) => {
    const value = settings[name];
    if (value === undefined || value === '') {
      throw new Error(`${field}: refers to setting %${name}%, which is not set`);
    }
    return value;
  });
}

function positiveInteger(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new Error(`${field}: expected a positive integer, found ${JSON.stringify(value)}`);
  }
  return value;
}

/** The extension parses the enum's name case-insensitively. */
function overridableStates(value: unknown, field: string): OverridableStates {
  if (value === undefined) return DEFAULTS.overridableExistingInstanceStates;
  const known = (['AnyState', 'NonRunningStates'] as const).find((name) => typeof value === 'string' && name.toLowerCase() === value.toLowerCase());
  if (!known) throw new Error(`${field}: expected "AnyState" or "NonRunningStates", found ${JSON.stringify(value)}`);
  return known;
}

function objectAt(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${field}: expected an object, found ${JSON.stringify(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Turns host.json's content into the host's settings; `path` names the file in errors. */
export function parseHostJson(json: unknown, settings: Record<string, string | undefined>, path = 'host.json'): HostSettings {
  const root = objectAt(json, path);
  const extensions = objectAt(root.extensions, `${path} extensions`);
  const durableTask = objectAt(extensions.durableTask, `${path} extensions.durableTask`);
  const http = objectAt(extensions.http, `${path} extensions.http`);

  const timeout = root.functionTimeout ?? DEFAULTS.functionTimeoutText;
  if (typeof timeout !== 'string') {
    throw new Error(`${path} functionTimeout: expected a TimeSpan string, found ${JSON.stringify(timeout)}`);
  }
  const unlimited = timeout.trim() === '-1';

  const prefix = http.routePrefix ?? DEFAULTS.routePrefix;
  if (typeof prefix !== 'string') {
    throw new Error(`${path} extensions.http.routePrefix: expected a string, found ${JSON.stringify(prefix)}`);
  }
  const hub = durableTask.hubName ?? DEFAULTS.hubName;
  if (typeof hub !== 'string' || hub === '') {
    throw new Error(`${path} extensions.durableTask.hubName: expected a non-empty string, found ${JSON.stringify(hub)}`);
  }

  return {
    functionTimeoutMs: unlimited ? undefined : parseTimeSpan(timeout, `${path} functionTimeout`),
    functionTimeoutText: unlimited ? undefined : timeout,
    routePrefix: prefix.replace(/^\/+|\/+$/g, ''),
    hubName: resolveSettingReferences(hub, settings, `${path} extensions.durableTask.hubName`),
    maxConcurrentActivityFunctions: positiveInteger(
      durableTask.maxConcurrentActivityFunctions,
      `${path} extensions.durableTask.maxConcurrentActivityFunctions`,
      DEFAULTS.maxConcurrentActivityFunctions,
    ),
    maxConcurrentOrchestratorFunctions: positiveInteger(
      durableTask.maxConcurrentOrchestratorFunctions,
      `${path} extensions.durableTask.maxConcurrentOrchestratorFunctions`,
      DEFAULTS.maxConcurrentOrchestratorFunctions,
    ),
    overridableExistingInstanceStates: overridableStates(
      durableTask.overridableExistingInstanceStates,
      `${path} extensions.durableTask.overridableExistingInstanceStates`,
    ),
  };
}

/** Reads and parses a host.json file; a missing path means all defaults. */
export async function readHostJson(path: string | undefined, settings: Record<string, string | undefined>): Promise<HostSettings> {
  if (path === undefined) return parseHostJson({}, settings);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`${path}: cannot read host.json (${(error as Error).message})`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: expected JSON, found a parse error (${(error as Error).message})`, { cause: error });
  }
  return parseHostJson(json, settings, path);
}
