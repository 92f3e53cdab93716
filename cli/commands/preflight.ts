/**
 * `kiln preflight FILE`: the plan step's preflight alone. Without --azure it runs against a throwaway local
 * emulator seeded like the local default; with --azure against the subscription the KILN_* settings name.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { formatProblems, preflightReport, type PreflightReport } from '../../src/activities/preflight.ts';
import { createAzureClients } from '../../src/azure/clients.ts';
import { loadConfig } from '../../src/config.ts';
import { loadTemplateFile, type BakeSpec } from '../../src/template/index.ts';
import { action, printJson } from './api-options.ts';
import { formatError } from './validate.ts';

interface PreflightOptions {
  azure?: boolean;
  seed?: string;
  json?: boolean;
}

/** Preflight on a fresh emulator (its own temp home, `zero` latency): what a bake on the local default would meet. */
async function preflightLocally(spec: BakeSpec, seedFile: string | undefined): Promise<PreflightReport> {
  const { startAzureEmulator } = await import('../../local/azure/index.ts');
  const { localAzureSettings } = await import('../../local/default.ts');
  const home = await mkdtemp(join(tmpdir(), 'kiln-preflight-'));
  const emulator = await startAzureEmulator({
    home, port: 0, keyVaultPort: 0, profile: 'zero', log: () => {},
    seedFile: seedFile ?? resolve(import.meta.dirname, '../../local/environment.json'),
  });
  try {
    // Preflight reads no blobs: the storage setting only has to parse.
    return await preflightReport(createAzureClients(loadConfig(localAzureSettings(emulator, 'UseDevelopmentStorage=true'))), spec);
  } finally {
    await emulator.close();
    await rm(home, { recursive: true, force: true });
  }
}

export function registerPreflight(program: Command): void {
  program
    .command('preflight')
    .description("check a template against Azure's read APIs before baking (exit 1 listing every problem); local emulator unless --azure")
    .argument('<file>', 'template file (AIB imageTemplate JSON)')
    .option('--azure', 'check against the subscription in KILN_SUBSCRIPTION_ID (KILN_ARM_ENDPOINT, credentials as the app uses them)')
    .option('--seed <file>', 'local environment seed for the local check (default local/environment.json)')
    .option('--json', 'print { file, problems: [{ path, code, message }], skipped: [line] }')
    .action(action(async (file: string, options: PreflightOptions) => {
      const parsed = await loadTemplateFile(file);
      if (!parsed.ok) {
        process.stderr.write(`invalid ${file}: ${parsed.errors.length} error${parsed.errors.length === 1 ? '' : 's'}\n${parsed.errors.map((e) => `  ${formatError(e)}`).join('\n')}\n`);
        process.exitCode = 1;
        return;
      }
      const { problems, skipped, notes } = options.azure
        ? await preflightReport(createAzureClients(loadConfig(process.env)), parsed.spec)
        : await preflightLocally(parsed.spec, options.seed);
      if (options.json) printJson({ file, problems, skipped, notes });
      else {
        if (problems.length === 0) process.stdout.write(`ok ${file}: nothing found that would stop the bake\n`);
        else process.stdout.write(`${problems.length} problem${problems.length === 1 ? '' : 's'} in ${file}:\n${formatProblems(problems).replace(/^/gm, '  ')}\n`);
        // Never passed off as checked.
        if (skipped.length) process.stdout.write(`not checked:\n${skipped.map((line) => `  ${line}`).join('\n')}\n`);
        if (notes.length) process.stdout.write(`notes:\n${notes.map((line) => `  ${line}`).join('\n')}\n`);
      }
      process.exitCode = problems.length === 0 ? 0 : 1;
    }));
}
