/** `kiln templates put|list|show|delete`: the stored templates (a put also starts a bake, as any upload does). */

import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { Command } from 'commander';
import { action, addApiOptions, connect, printJson, type ApiOptions } from './api-options.ts';

export function registerTemplates(program: Command): void {
  const templates = program.command('templates').description('manage stored templates');
  addApiOptions(
    templates
      .command('put')
      .description('store a template (container templates); storing it starts a bake of it')
      .argument('<file>', 'template file')
      .option('--name <name>', 'template name (default: the file name without .json)'),
  ).action(action(async (file: string, options: ApiOptions & { name?: string }) => {
    const name = options.name ?? basename(file, extname(file));
    const template: unknown = JSON.parse(await readFile(file, 'utf8'));
    await (await connect(options)).putTemplate(name, template);
    process.stdout.write(`stored template ${name}\n`);
  }));
  addApiOptions(templates.command('list').description('list stored templates').option('--json', 'print as JSON'))
    .action(action(async (options: ApiOptions & { json?: boolean }) => {
      const client = await connect(options);
      const names: { name: string }[] = [];
      let continuationToken: string | undefined;
      do {
        const page = await client.listTemplates(continuationToken ? { continuationToken } : {});
        names.push(...page.items);
        continuationToken = page.continuationToken;
      } while (continuationToken);
      if (options.json) return printJson(names);
      for (const t of names) process.stdout.write(`${t.name}\n`);
    }));
  addApiOptions(templates.command('show').description('print a stored template').argument('<name>', 'template name'))
    .action(action(async (name: string, options: ApiOptions) => printJson(await (await connect(options)).getTemplate(name))));
  addApiOptions(templates.command('delete').description('delete a stored template').argument('<name>', 'template name'))
    .action(action(async (name: string, options: ApiOptions) => {
      await (await connect(options)).deleteTemplate(name);
      process.stdout.write(`deleted template ${name}\n`);
    }));
}
