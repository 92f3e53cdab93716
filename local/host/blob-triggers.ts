/**
 * Runs blob triggers by polling Azurite: each blob version (etag) fires once, recorded in receipts; a version that
 * fails 5 times is poisoned. Triggers registered with `source: 'EventGrid'` are polled the same way.
 */
import { BlobServiceClient, RestError, type ContainerClient } from '@azure/storage-blob';
import type { RegisteredFunction } from './functions-core.ts';
import type { HostStore } from './host-store.ts';
import { resolveSettingReferences } from './host-json.ts';
import type { HostInvoker } from './invoker.ts';

/** As the Functions host: after 5 failed attempts a blob version is given up on (maxDequeueCount). */
export const MAX_BLOB_ATTEMPTS = 5;
/**
 * Functions puts poisoned blobs on the queue `webjobs-blobtrigger-poison`. The local default runs only Azurite's
 * blob service, so the same message is written as a blob into a container of that name instead.
 */
export const POISON_CONTAINER = 'webjobs-blobtrigger-poison';

export interface BlobTriggerOptions {
  functions: Iterable<RegisteredFunction>;
  /** Settings (with the process environment) to resolve `connection` names and %SETTING% references. */
  settings: Record<string, string | undefined>;
  store: HostStore;
  invoker: HostInvoker;
  pollMs: number;
  log: (line: string) => void;
}

interface BlobPattern {
  container: string;
  /** The literal start of the blob name, to list less. */
  prefix: string;
  match(blobName: string): Record<string, string> | undefined;
}

interface WatchedFunction {
  fn: RegisteredFunction;
  pattern: BlobPattern;
  service: BlobServiceClient;
  container: ContainerClient;
}

/** Compiles `container/{name}.json` into a matcher that binds each {placeholder} (which may span '/'). */
export function compileBlobPath(path: string, field: string): BlobPattern {
  const slash = path.indexOf('/');
  const container = slash < 0 ? path : path.slice(0, slash);
  const blobPart = slash < 0 ? '' : path.slice(slash + 1);
  if (!/^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$/.test(container) && container !== '$root') {
    throw new Error(`${field}: expected 'container/blob-pattern' with a literal container name, found '${path}'`);
  }
  const names: string[] = [];
  let regex = '^';
  for (const part of blobPart.split(/(\{[^{}]*\})/).filter((p) => p !== '')) {
    if (part.startsWith('{')) {
      const name = part.slice(1, -1);
      if (!/^\w+$/.test(name)) throw new Error(`${field}: expected a placeholder name in '${part}', found '${name}'`);
      names.push(name);
      regex += '(.+?)';
    } else {
      regex += part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  // `container` alone, or `container/`, watches every blob.
  if (blobPart === '') regex += '.+';
  const compiled = new RegExp(`${regex}$`);
  const brace = blobPart.indexOf('{');
  return {
    container,
    prefix: brace < 0 ? blobPart : blobPart.slice(0, brace),
    match(blobName) {
      const found = compiled.exec(blobName);
      if (!found) return undefined;
      return Object.fromEntries(names.map((name, i) => [name, found[i + 1] ?? '']));
    },
  };
}

function connectionStringFor(fn: RegisteredFunction, settings: Record<string, string | undefined>): string {
  const name = typeof fn.trigger.connection === 'string' && fn.trigger.connection !== '' ? fn.trigger.connection : 'AzureWebJobsStorage';
  const value = settings[name] ?? settings[`AzureWebJobs${name}`];
  if (!value || !/AccountName=|UseDevelopmentStorage=true|BlobEndpoint=/i.test(value)) {
    throw new Error(
      `function '${fn.metadata.name}': blob trigger connection '${name}' must name a setting holding a storage ` +
        `connection string, found ${value ? 'a value that is not one' : 'no such setting'}`,
    );
  }
  return value;
}

function isNotFound(error: unknown): boolean {
  return error instanceof RestError && error.statusCode === 404;
}

function isPreconditionFailed(error: unknown): boolean {
  return error instanceof RestError && (error.statusCode === 412 || error.statusCode === 304);
}

export interface BlobTriggers {
  /** Runs one poll of every blob trigger now (tests), waiting for a poll already in progress first. */
  pollNow(): Promise<void>;
  stop(): Promise<void>;
}

export function startBlobTriggers(options: BlobTriggerOptions): BlobTriggers {
  const services = new Map<string, BlobServiceClient>();
  const watched: WatchedFunction[] = [...options.functions]
    .filter((fn) => fn.trigger.type === 'blobTrigger')
    .map((fn) => {
      const field = `function '${fn.metadata.name}' blob trigger path`;
      const rawPath = typeof fn.trigger.path === 'string' ? fn.trigger.path : '';
      const pattern = compileBlobPath(resolveSettingReferences(rawPath, options.settings, field), field);
      const connectionString = connectionStringFor(fn, options.settings);
      let service = services.get(connectionString);
      if (!service) {
        service = BlobServiceClient.fromConnectionString(connectionString);
        services.set(connectionString, service);
      }
      return { fn, pattern, service, container: service.getContainerClient(pattern.container) };
    });

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  /** The last polling error per function, so a down Azurite is logged once rather than every poll. */
  const lastErrors = new Map<string, string>();

  const poison = async (w: WatchedFunction, blobName: string, etag: string, failures: number, lastError: string): Promise<void> => {
    const message = {
      Type: 'BlobTrigger',
      FunctionId: `Host.Functions.${w.fn.metadata.name}`,
      BlobType: 'BlockBlob',
      ContainerName: w.pattern.container,
      BlobName: blobName,
      ETag: etag,
      Attempts: failures,
      LastError: lastError,
    };
    const poisonContainer = w.service.getContainerClient(POISON_CONTAINER);
    await poisonContainer.createIfNotExists();
    const body = JSON.stringify(message, null, 2);
    await poisonContainer
      .getBlockBlobClient(`${w.fn.metadata.name}/${w.pattern.container}/${blobName}@${etag.replace(/"/g, '')}.json`)
      .upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: 'application/json' } });
    options.log(
      `[${w.fn.metadata.name}] blob ${w.pattern.container}/${blobName} (etag ${etag}) poisoned after ${failures} failures; ` +
        `see container ${POISON_CONTAINER}`,
    );
  };

  const fire = async (w: WatchedFunction, blobName: string, etag: string, bound: Record<string, string>): Promise<void> => {
    const name = w.fn.metadata.name;
    const previous = options.store.receipt(name, `${w.pattern.container}/${blobName}`, etag);
    if (previous && previous.status !== 'failed') return;
    const blob = w.container.getBlobClient(blobName);
    let content: Buffer;
    let properties: Awaited<ReturnType<typeof blob.getProperties>>;
    try {
      // Read exactly the listed version; a newer one is picked up by the next poll under its own etag.
      properties = await blob.getProperties({ conditions: { ifMatch: etag } });
      content = await blob.downloadToBuffer(0, undefined, { conditions: { ifMatch: etag } });
    } catch (error) {
      if (isNotFound(error) || isPreconditionFailed(error)) return;
      throw error;
    }
    const triggerMetadata: Record<string, unknown> = {
      ...bound,
      blobTrigger: `${w.pattern.container}/${blobName}`,
      uri: blob.url,
      properties: {
        contentLength: properties.contentLength,
        contentType: properties.contentType,
        eTag: etag,
        lastModified: properties.lastModified?.toISOString(),
        createdOn: properties.createdOn?.toISOString(),
      },
      metadata: properties.metadata ?? {},
    };
    const receiptPath = `${w.pattern.container}/${blobName}`;
    try {
      await options.invoker.run(w.fn, content, { triggerMetadata });
      options.store.putReceipt(name, receiptPath, etag, { status: 'succeeded', failures: previous?.failures ?? 0, lastError: null }, new Date());
    } catch (error) {
      const failures = (previous?.failures ?? 0) + 1;
      const message = error instanceof Error ? error.message : String(error);
      options.log(`[${name}] blob ${receiptPath} failed (attempt ${failures} of ${MAX_BLOB_ATTEMPTS}): ${message}`);
      if (failures >= MAX_BLOB_ATTEMPTS) {
        await poison(w, blobName, etag, failures, message);
        options.store.putReceipt(name, receiptPath, etag, { status: 'poisoned', failures, lastError: message }, new Date());
      } else {
        options.store.putReceipt(name, receiptPath, etag, { status: 'failed', failures, lastError: message }, new Date());
      }
    }
  };

  const pollFunction = async (w: WatchedFunction): Promise<void> => {
    try {
      for await (const item of w.container.listBlobsFlat({ prefix: w.pattern.prefix || undefined })) {
        if (stopped) return;
        const bound = w.pattern.match(item.name);
        // Listings give the etag bare; HTTP headers (and Functions' poison messages) quote it.
        const etag = item.properties.etag?.replace(/^"?(.*?)"?$/, '"$1"');
        if (bound && etag) await fire(w, item.name, etag, bound);
      }
      lastErrors.delete(w.fn.metadata.name);
    } catch (error) {
      // A container that does not exist yet simply has no blobs.
      if (isNotFound(error)) return;
      const message = error instanceof Error ? error.message : String(error);
      if (lastErrors.get(w.fn.metadata.name) !== message) {
        options.log(`[${w.fn.metadata.name}] blob trigger poll of ${w.pattern.container} failed: ${message}`);
        lastErrors.set(w.fn.metadata.name, message);
      }
    }
  };

  const pollAll = async (): Promise<void> => {
    await Promise.all(watched.map(pollFunction));
  };

  const loop = (): void => {
    if (stopped) return;
    current = pollAll().finally(() => {
      if (!stopped) timer = setTimeout(loop, options.pollMs);
    });
  };
  if (watched.length > 0) loop();

  return {
    async pollNow() {
      await current;
      clearTimeout(timer);
      current = pollAll();
      await current;
      if (!stopped) timer = setTimeout(loop, options.pollMs);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}
