/** `kiln bake FILE`: bake a template through the API, or on an in-process local default when no endpoint is given. */

import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { KilnClient } from '../../src/api/client.ts';
import type { LocalDefault } from '../../local/default.ts';
import { watchRun } from '../progress-watch.ts';
import { bakeExitCode, summaryLines } from '../progress.ts';
import { action, addApiOptions, connect, printJson, type ApiOptions } from './api-options.ts';
import { addLocalOptions, localDefaultOptions, type LocalOptions } from './local-options.ts';
import { addTemplateOptions, type TemplateOptions } from './template-options.ts';
import { readTemplateInput } from './template-input.ts';
import { addPackerOptions, failed, uploadFiles, type PackerCliOptions } from './convert.ts';

interface BakeOptions extends ApiOptions, LocalOptions, TemplateOptions, PackerCliOptions {
  json?: boolean;
}

/**
 * Starts the local default for the length of one bake, on the same ports as `kiln up` (the examples download
 * files from the emulator's default port). Its host and emulator log to KILN_HOME/bake.log, so the terminal shows
 * only the bake.
 */
async function startInProcess(options: BakeOptions): Promise<{ local: LocalDefault; logPath: string; close(): Promise<void> }> {
  const { startLocalDefault } = await import('../../local/default.ts');
  await mkdir(options.home, { recursive: true });
  const logPath = resolve(options.home, 'bake.log');
  const logFile = createWriteStream(logPath, { flags: 'a' });
  const local = await startLocalDefault({ ...localDefaultOptions(options), log: (line) => logFile.write(`${line}\n`) });
  return {
    local,
    logPath,
    async close() {
      await local.close();
      await new Promise((done) => logFile.end(done));
    },
  };
}

/** The API of a `kiln up` running on `home`, if one answers. */
async function runningLocalDefault(home: string): Promise<KilnClient | undefined> {
  const { localEndpoint } = await import('../../local/default.ts');
  const endpoint = await localEndpoint(home);
  if (!endpoint) return undefined;
  const client = new KilnClient(endpoint.functionsUrl, { key: endpoint.apiKey });
  return (await client.listRuns({ limit: 1 }).then(() => true, () => false)) ? client : undefined;
}

export function registerBake(program: Command): void {
  addPackerOptions(addTemplateOptions(addLocalOptions(addApiOptions(
    program
      .command('bake')
      .description('bake a template; exit 0 if it succeeded with every script run, 2 if it succeeded with simulated steps, 1 otherwise (no --endpoint: on the local default, started for the bake)')
      .argument('<file>', 'template file (AIB imageTemplate resource or properties, ARM deployment template, Packer template or directory)')
      .option('--json', 'print the final run record as JSON'),
  )))).action(action(async (file: string, options: BakeOptions) => {
    // Checked here first so every template error shows at once, before anything starts.
    const { parsed, uploads } = await readTemplateInput(file, options);
    if (!parsed.ok) return failed(file, parsed.errors);
    for (const warning of parsed.warnings) process.stderr.write(`warning ${warning.path}: ${warning.message}\n`);
    // The API gets the imageTemplate resource the file became: parameters, --location and conversions are applied here.
    const template = parsed.template;
    // A `kiln up` already running on this home owns its ports and data: bake through it rather than beside it.
    const running = options.endpoint ? undefined : await runningLocalDefault(options.home);
    const inProcess = options.endpoint || running ? undefined : await startInProcess(options);
    const local = inProcess?.local;
    try {
      const client: KilnClient = running ?? (await connect(local ? { ...options, endpoint: local.functionsUrl, key: local.apiKey } : options));
      await uploadFiles(client, uploads, (line) => (options.json ? process.stderr : process.stdout).write(`${line}\n`));
      const started = await client.startBake(template, { templateName: parsed.spec.name });
      const progressOut = options.json ? process.stderr : process.stdout;
      if (!options.json) progressOut.write(`bake ${started.id} started (${started.location})\n`);
      // The first Ctrl-C cancels the bake (it cleans up, then the watch ends); a second one leaves at once.
      let cancels = 0;
      const onInterrupt = (): void => {
        cancels += 1;
        if (cancels > 1) process.exit(130);
        progressOut.write(`canceling ${started.id} (Ctrl-C again to leave without waiting)\n`);
        void client.cancel(started.id).catch((error: Error) => progressOut.write(`cancel failed: ${error.message}\n`));
      };
      process.on('SIGINT', onInterrupt);
      const record = await watchRun(client, started.id, {
        out: progressOut,
        live: Boolean(progressOut.isTTY),
        intervalMs: options.endpoint ? 1_000 : 250,
      }).finally(() => process.off('SIGINT', onInterrupt));
      if (options.json) printJson(record);
      else process.stdout.write(`${summaryLines(record).join('\n')}\n`);
      process.exitCode = bakeExitCode(record);
      if (inProcess && record.status !== 'Succeeded') process.stderr.write(`the local default's log: ${inProcess.logPath}\n`);
    } finally {
      await inProcess?.close();
    }
  }));
}
