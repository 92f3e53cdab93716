/** `kiln logs ID`: every step's log of a run. */

import type { Command } from 'commander';
import { action, addApiOptions, connect, printJson, type ApiOptions } from './api-options.ts';

export function registerLogs(program: Command): void {
  addApiOptions(
    program.command('logs').description("print a run's step logs").argument('<id>', 'run id').option('--json', 'print the logs as JSON'),
  ).action(action(async (id: string, options: ApiOptions & { json?: boolean }) => {
    const { logs } = await (await connect(options)).getLogs(id);
    if (options.json) return printJson(logs);
    for (const { step, text } of logs) process.stdout.write(`== ${step} ==\n${text}${text.endsWith('\n') ? '' : '\n'}`);
  }));
}
