/** Options and plumbing the API commands share: where Kiln is (endpoint and key), and how a command fails. */

import { Option, type Command } from 'commander';
import { KilnApiError, KilnClient } from '../../src/api/client.ts';

export interface ApiOptions {
  endpoint?: string;
  key?: string;
  home: string;
}

/** KILN_HOME, as docs/design.md §6 names it: the local default's state (default `.kiln` in the working directory). */
export function homeOption(): Option {
  return new Option('--home <dir>', 'KILN_HOME: state of the local default').env('KILN_HOME').default('.kiln');
}

/** --endpoint/--key (or KILN_ENDPOINT/KILN_API_KEY); without them, the `kiln up` last started on --home. */
export function addApiOptions(command: Command): Command {
  return command
    .addOption(new Option('--endpoint <url>', 'Kiln Functions app URL, e.g. https://kiln.azurewebsites.net').env('KILN_ENDPOINT'))
    .addOption(new Option('--key <key>', 'function key for the API').env('KILN_API_KEY'))
    .addOption(homeOption());
}

/** A client for the given endpoint, or for the local default running on --home. */
export async function connect(options: ApiOptions): Promise<KilnClient> {
  if (options.endpoint) return new KilnClient(options.endpoint, options.key ? { key: options.key } : {});
  // Loaded only here: the local default's modules (emulator, host) are heavy and an --endpoint call needs none.
  const { localEndpoint } = await import('../../local/default.ts');
  const local = await localEndpoint(options.home);
  if (!local) {
    throw new Error(`no Kiln endpoint: pass --endpoint and --key, or start \`kiln up\` (no local default found in ${options.home})`);
  }
  return new KilnClient(local.functionsUrl, { key: local.apiKey });
}

/** Runs a command action; an error is printed as one line (the API's problem detail and status) and exits 1. */
export function action<A extends unknown[]>(run: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await run(...args);
    } catch (error) {
      if (error instanceof KilnApiError) {
        process.stderr.write(`kiln: ${error.message} (HTTP ${error.statusCode})\n`);
        const errors = error.problem?.errors;
        if (Array.isArray(errors)) for (const e of errors as { path: string; message: string }[]) process.stderr.write(`  ${e.path}: ${e.message}\n`);
      } else {
        process.stderr.write(`kiln: ${(error as Error).message}\n`);
      }
      process.exitCode = 1;
    }
  };
}

/** Prints a value as one JSON document (for --json). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
