/**
 * Runs the local Functions host as its own process (for `kiln up` with a separate host, and crash tests): prints one
 * JSON ready line on stdout, stops cleanly on SIGTERM/SIGINT.
 *
 *   node local/host/main.ts --app functions/index.ts --home DIR [--port N] [--settings local.settings.json]
 *        [--host-json host.json] [--function-key K] [--admin-key K] [--system-key K]
 *
 * Settings come from the environment, overlaid by the settings file (local.settings.json `Values`, or a flat object).
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startLocalHost } from './index.ts';

function fail(message: string): never {
  process.stderr.write(`kiln host: ${message}\n`);
  process.exit(2);
}

function readSettingsFile(path: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    fail(`--settings ${path}: expected a readable JSON file (${(error as Error).message})`);
  }
  const values = typeof parsed === 'object' && parsed !== null && 'Values' in parsed ? (parsed as { Values: unknown }).Values : parsed;
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    fail(`--settings ${path}: expected an object of settings (or {"Values": {...}}), found ${JSON.stringify(values)}`);
  }
  const settings: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    if (typeof value !== 'string') fail(`--settings ${path}: setting ${name} must be a string, found ${JSON.stringify(value)}`);
    settings[name] = value;
  }
  return settings;
}

const { values: args } = parseArgs({
  options: {
    app: { type: 'string' },
    home: { type: 'string' },
    port: { type: 'string' },
    settings: { type: 'string' },
    'host-json': { type: 'string' },
    'function-key': { type: 'string' },
    'admin-key': { type: 'string' },
    'system-key': { type: 'string' },
  },
  strict: true,
});

if (!args.app) fail('--app: expected the app entry file (e.g. functions/index.ts), found nothing');
if (!args.home) fail('--home: expected the host state directory, found nothing');
const port = args.port === undefined ? undefined : Number(args.port);
if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65_535)) {
  fail(`--port: expected a port number 0-65535, found ${JSON.stringify(args.port)}`);
}
// As `func start`: host.json from the working directory (the app root) unless given.
const hostJsonPath = args['host-json'] ?? (existsSync('host.json') ? resolve('host.json') : undefined);

// A handler's stray rejection must not take the host (and every running instance) down.
process.on('unhandledRejection', (reason) => {
  process.stderr.write(`kiln host: unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}\n`);
});

const host = await startLocalHost({
  appEntry: resolve(args.app),
  home: resolve(args.home),
  port,
  settings: args.settings ? readSettingsFile(args.settings) : {},
  hostJsonPath,
  keys: { function: args['function-key'], admin: args['admin-key'], system: args['system-key'] },
});

process.stdout.write(`${JSON.stringify({ ready: true, url: host.url, pid: process.pid, home: resolve(args.home) })}\n`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  host.close().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`kiln host: close failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
