/** `kiln logs ID [-f]`: every step's log of a run; with -f, what is written next as well, until the run ends. */

import type { Command } from 'commander';
import type { KilnClient } from '../../src/api/client.ts';
import { action, addApiOptions, connect, printJson, type ApiOptions } from './api-options.ts';

interface LogsOptions extends ApiOptions {
  json?: boolean;
  follow?: boolean;
  interval: string;
}

export function registerLogs(program: Command): void {
  addApiOptions(
    program
      .command('logs')
      .description("print a run's step logs")
      .argument('<id>', 'run id')
      .option('--json', 'print the logs as JSON')
      .option('-f, --follow', 'keep printing what the run writes until it ends')
      .option('--interval <ms>', 'with --follow: how often to ask for more', '1000'),
  ).action(action(async (id: string, options: LogsOptions) => {
    const client = await connect(options);
    if (options.follow) return follow(client, id, intervalOf(options.interval));
    const { logs } = await client.getLogs(id);
    if (options.json) return printJson(logs);
    for (const { step, text } of logs) process.stdout.write(`== ${step} ==\n${text}${text.endsWith('\n') ? '' : '\n'}`);
  }));
}

function intervalOf(text: string): number {
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 50 || ms > 60_000) throw new Error(`--interval: expected milliseconds from 50 to 60000, found ${JSON.stringify(text)}`);
  return ms;
}

/** Prints each new piece under its step's header (again when the step changes), until an answer says the run ended. */
async function follow(client: KilnClient, id: string, intervalMs: number): Promise<void> {
  let cursor: string | undefined;
  let current: string | undefined;
  for (;;) {
    const answer = await client.getLogs(id, cursor);
    for (const { step, text } of answer.logs) {
      if (text === '') continue;
      if (step !== current) process.stdout.write(`== ${step} ==\n`);
      current = step;
      process.stdout.write(text);
    }
    cursor = answer.cursor;
    if (answer.done) {
      process.stdout.write(`== run ${id} ${answer.status} ==\n`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
