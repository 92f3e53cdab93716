/**
 * Stored templates in blob container `templates`: `{name}.json` or `{name}.pkr.hcl`, with the values files beside
 * it (`{name}.parameters.json`, `{name}.pkrvars.hcl`); dropping a template blob there also starts a bake.
 */

import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { isTemplateName, templateFileNames, templateFileRole, type TemplateFiles } from '../template/stored.ts';
import { isNotFound } from './store.ts';

export const TEMPLATES_CONTAINER = 'templates';

const TEMPLATE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

export class TemplateNameError extends Error {
  override name = 'TemplateNameError';
}

/** A template's files as written: its format and text, and the values files beside it (absent ones are removed). */
export interface TemplateWrite {
  format: 'json' | 'hcl';
  text: string;
  parameters?: string;
  variables?: string;
}

export class TemplateStore {
  readonly container: ContainerClient;

  constructor(container: ContainerClient) {
    this.container = container;
  }

  /** The template's files as stored, with the template file's time; undefined when there is none. */
  async read(name: string): Promise<(TemplateFiles & { lastModified: Date }) | undefined> {
    const names = templateFileNames(checked(name));
    const found = new Map<string, Date>();
    for await (const item of this.container.listBlobsFlat({ prefix: `${name}.` })) found.set(item.name, item.properties.lastModified);
    // Both spellings stored (one dropped beside the other): the newer drop is the template.
    const file = [names.json, names.hcl].filter((n) => found.has(n)).sort((a, b) => found.get(b)!.getTime() - found.get(a)!.getTime())[0];
    if (!file) return undefined;
    const [text, parameters, variables] = await Promise.all([
      this.text(file),
      found.has(names.parameters) ? this.text(names.parameters) : undefined,
      found.has(names.variables) ? this.text(names.variables) : undefined,
    ]);
    if (text === undefined) return undefined;
    return {
      file,
      text,
      ...(parameters !== undefined ? { parameters } : {}),
      ...(variables !== undefined ? { variables } : {}),
      lastModified: found.get(file)!,
    };
  }

  /**
   * Creates or replaces the template. The values files go first and the template last, because writing the
   * template is a drop whose bake reads the values beside it; the other spelling of the template goes after.
   */
  async write(name: string, template: TemplateWrite): Promise<void> {
    const names = templateFileNames(checked(name));
    await Promise.all([
      template.parameters === undefined ? this.remove(names.parameters) : this.upload(names.parameters, template.parameters, 'application/json'),
      template.variables === undefined ? this.remove(names.variables) : this.upload(names.variables, template.variables, 'text/plain'),
    ]);
    const [file, other] = template.format === 'json' ? [names.json, names.hcl] : [names.hcl, names.json];
    await this.upload(file, template.text, template.format === 'json' ? 'application/json' : 'text/plain');
    await this.remove(other);
  }

  /** Creates or replaces a JSON template. */
  async put(name: string, template: unknown): Promise<void> {
    await this.write(name, { format: 'json', text: JSON.stringify(template, null, 2) });
  }

  /** Deletes the template and the values beside it; false when there was no template. */
  async delete(name: string): Promise<boolean> {
    const names = templateFileNames(checked(name));
    const [json, hcl] = await Promise.all([this.remove(names.json), this.remove(names.hcl), this.remove(names.parameters), this.remove(names.variables)]);
    return json || hcl;
  }

  /** Every stored template's name. */
  async list(): Promise<string[]> {
    const names = new Set<string>();
    for await (const item of this.container.listBlobsFlat()) {
      const role = templateFileRole(item.name);
      if (role?.role === 'template') names.add(role.name);
    }
    return [...names];
  }

  private async text(blobName: string): Promise<string | undefined> {
    try {
      return (await this.container.getBlobClient(blobName).downloadToBuffer()).toString('utf8');
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private async upload(blobName: string, text: string, contentType: string): Promise<void> {
    await this.container.getBlockBlobClient(blobName).upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: contentType } });
  }

  private async remove(blobName: string): Promise<boolean> {
    return (await this.container.getBlobClient(blobName).deleteIfExists()).succeeded;
  }
}

function checked(name: string): string {
  if (!TEMPLATE_NAME.test(name) || !isTemplateName(name)) {
    throw new TemplateNameError(
      `template name: expected 1–80 letters, digits, '.', '_' or '-' starting with a letter or digit, not ending in .parameters, found ${JSON.stringify(name)}`,
    );
  }
  return name;
}

/** The template store on a blob service's `templates` container (created if missing). */
export async function openTemplateStore(blobs: BlobServiceClient): Promise<TemplateStore> {
  const container = blobs.getContainerClient(TEMPLATES_CONTAINER);
  await container.createIfNotExists();
  return new TemplateStore(container);
}
