/** `kiln templates put|list|show|delete`: the stored templates (a put also starts a bake, as any upload does). */

import { basename, extname } from 'node:path';
import type { Command } from 'commander';
import { action, addApiOptions, connect, printJson, type ApiOptions } from './api-options.ts';
import { addPackerOptions, failed, uploadFiles, type PackerCliOptions } from './convert.ts';
import { readTemplateInput } from './template-input.ts';
import { addTemplateOptions, type TemplateOptions } from './template-options.ts';

export function registerTemplates(program: Command): void {
  const templates = program.command('templates').description('manage stored templates');
  addPackerOptions(addTemplateOptions(addApiOptions(
    templates
      .command('put')
      .description('store a template (container templates); storing it starts a bake of it; it is stored as kiln bake would send it: ARM evaluated, a Packer template converted (its local files uploaded)')
      .argument('<file>', 'template file (AIB imageTemplate resource or properties, ARM deployment template, Packer template or directory)')
      .option('--name <name>', 'template name (default: the file name without .json; a Packer template\'s own name)'),
  ))).action(action(async (file: string, options: ApiOptions & TemplateOptions & PackerCliOptions & { name?: string }) => {
    const { parsed, uploads, packer } = await readTemplateInput(file, options);
    if (!parsed.ok) return failed(file, parsed.errors);
    for (const warning of parsed.warnings) process.stderr.write(`warning ${warning.path}: ${warning.message}\n`);
    const name = options.name ?? (packer ? parsed.spec.name : basename(file, extname(file)));
    const client = await connect(options);
    await uploadFiles(client, uploads, (line) => process.stdout.write(`${line}\n`));
    await client.putTemplate(name, parsed.template);
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
