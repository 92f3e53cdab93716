/** `kiln up`: start the local default and stay up; print one ready line (docs/design.md §6) when it answers. */

import type { Command } from 'commander';
import { action, homeOption } from './api-options.ts';
import { addLocalOptions, localDefaultOptions, type LocalOptions } from './local-options.ts';

/** How long a stop may take before `kiln up` exits anyway (service managers kill at 10 s). */
const STOP_DEADLINE_MS = 8_000;

/** Resolves on the first SIGTERM or SIGINT. */
function firstSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * Exits at once: everything acknowledged is already on disk (Azurite saves before it answers, the durable store is
 * SQLite), so running bakes carry on at the next start; the exit handlers stop Azurite.
 */
function exitNow(reason: string): never {
  process.stderr.write(`kiln up: ${reason}; exiting now, running bakes carry on at the next start\n`);
  process.exit(1);
}

export function registerUp(program: Command): void {
  addLocalOptions(
    program
      .command('up')
      .description('start the local default (Functions host, Azure emulator, Azurite) and stay up')
      .addOption(homeOption()),
  ).action(action(async (options: LocalOptions) => {
    const { startLocalDefault } = await import('../../local/default.ts');
    const local = await startLocalDefault(localDefaultOptions(options));
    process.stdout.write(`${JSON.stringify(local.readyLine())}\n`);
    // The ready line's keys are fixed (DESIGN §6): the dashboard's address goes to stderr, for people.
    process.stderr.write(`kiln: dashboard at ${local.functionsUrl}/api/dashboard (it asks for the apiKey of the ready line)\n`);
    const signal = await firstSignal();
    // A stuck activity, guest or trigger must not hold the stop; a second signal means "now".
    const deadline = setTimeout(() => exitNow(`stopping took over ${STOP_DEADLINE_MS / 1_000} s`), STOP_DEADLINE_MS);
    process.once('SIGTERM', () => exitNow('a second SIGTERM'));
    process.once('SIGINT', () => exitNow('a second SIGINT'));
    await local.close();
    clearTimeout(deadline);
    // Work still in flight in this process (an activity cut off mid-call) must not keep it alive after a clean stop.
    process.stderr.write(`kiln up: stopped on ${signal}\n`);
    process.exit(0);
  }));
}
