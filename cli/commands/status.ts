/** `kiln status ID`: a run's state, image version and rollout (`--json`: the run record). */

import type { Command } from 'commander';
import type { RunRecord } from '../../src/runs/record.ts';
import { summaryLines, snapshotOf, progressBlock, type RunView } from '../progress.ts';
import { action, addApiOptions, connect, printJson, type ApiOptions } from './api-options.ts';

export function registerStatus(program: Command): void {
  addApiOptions(
    program.command('status').description('show a run').argument('<id>', 'run id').option('--json', 'print the run record as JSON'),
  ).action(action(async (id: string, options: ApiOptions & { json?: boolean }) => {
    const run = await (await connect(options)).getRun<RunView>(id);
    if (options.json) return printJson(run);
    const lines = run.progress ? progressBlock(snapshotOf(run), process.stdout.columns ?? 80) : summaryLines(run as RunRecord);
    process.stdout.write(`${lines.join('\n')}\n`);
  }));
}
