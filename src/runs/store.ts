/**
 * Run records and per-step logs in blob container `runs`: `{id}/record.json`, `{id}/logs/{step}.log`, and the live
 * progress of a run's sub-orchestrations in `{id}/progress/{key}.json` (each child writes only its own blob).
 */

import type { BlobServiceClient, ContainerClient, ContainerListBlobHierarchySegmentResponse } from '@azure/storage-blob';
import type { RegionProgress, ScaleSetProgress } from './progress.ts';
import { FINAL_RUN_STATUSES, type RunRecord, type RunStatus } from './record.ts';
import { mergeProgress } from './status.ts';

export const RUNS_CONTAINER = 'runs';

export interface RunPage {
  records: RunRecord[];
  continuationToken?: string;
}

export interface StepLog {
  step: string;
  text: string;
  /** The log's length in bytes after `text` (the offset to read from next). */
  length?: number;
}

const LOG_NAME = /^[a-z0-9][a-z0-9-]*$/;

/** Reads of a JSON blob that is being rewritten at that moment. */
const TORN_READ_ATTEMPTS = 5;

/** Append blocks are limited to 4 MiB; a bigger write is split. */
const MAX_APPEND_BYTES = 4 * 1024 * 1024;

/**
 * The index of unfinished runs: a blob index tag on each record blob, written in the same request as the record, so
 * it can never disagree with it (a crash leaves both or neither); the janitor finds open runs without a listing.
 */
const RUN_STATE_TAG = 'kiln-run';

function recordWrite(record: RunRecord) {
  return {
    blobHTTPHeaders: { blobContentType: 'application/json' },
    tags: { [RUN_STATE_TAG]: FINAL_RUN_STATUSES.has(record.status) ? 'ended' : 'open' },
  };
}

export class RunStore {
  readonly container: ContainerClient;

  constructor(container: ContainerClient) {
    this.container = container;
  }

  /** Writes the whole record (last write wins; the orchestration is its only writer once the run has started). */
  async put(record: RunRecord): Promise<void> {
    const body = JSON.stringify(record, null, 2);
    await this.container.getBlockBlobClient(`${record.id}/record.json`).upload(body, Buffer.byteLength(body), recordWrite(record));
  }

  /** Writes the record only if the run has none yet; false when another writer created it first. */
  async create(record: RunRecord): Promise<boolean> {
    const body = JSON.stringify(record, null, 2);
    try {
      await this.container.getBlockBlobClient(`${record.id}/record.json`).upload(body, Buffer.byteLength(body), { ...recordWrite(record), conditions: { ifNoneMatch: '*' } });
      return true;
    } catch (error) {
      // Azure answers 409 BlobAlreadyExists; Azurite 412 ConditionNotMet.
      if (statusOf(error) === 409 || statusOf(error) === 412) return false;
      throw error;
    }
  }

  /** The record with the live progress of its running sub-orchestrations merged in; undefined when there is none. */
  async get(id: string): Promise<RunRecord | undefined> {
    return (await this.getLive(id))?.record;
  }

  /** As `get`, plus the progress slices it merged (none once the run has ended), read once for callers that need both. */
  async getLive(id: string): Promise<{ record: RunRecord; slices: (RegionProgress | ScaleSetProgress)[] } | undefined> {
    const record = await this.readRecord(id);
    if (!record) return undefined;
    if (record.endedAt) return { record, slices: [] };
    const slices = await this.readProgress(id);
    return { record: mergeProgress(record, slices), slices };
  }

  /** One page of records, newest first within the page; `status` filters. */
  async list(options: { status?: RunStatus; continuationToken?: string; limit?: number } = {}): Promise<RunPage> {
    const pages = this.container
      .listBlobsByHierarchy('/')
      .byPage({ maxPageSize: options.limit ?? 50, ...(options.continuationToken ? { continuationToken: options.continuationToken } : {}) });
    const page = (await pages.next()).value as ContainerListBlobHierarchySegmentResponse | undefined;
    if (!page) return { records: [] };
    const ids = page.segment.blobPrefixes?.map((prefix: { name: string }) => prefix.name.replace(/\/$/, '')) ?? [];
    const records = (await Promise.all(ids.map((id: string) => this.get(id)))).filter(
      (record): record is RunRecord => record !== undefined && (!options.status || record.status === options.status),
    );
    records.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    return { records, ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}) };
  }

  /**
   * Ids of the runs whose record is not in a final status, found by the record blobs' index tag (not a listing of
   * every run ever made). The index follows writes within moments: a caller reads each record before acting on it.
   */
  async listUnfinished(): Promise<string[]> {
    const ids: string[] = [];
    for await (const item of this.container.findBlobsByTags(`"${RUN_STATE_TAG}" = 'open'`)) {
      if (item.name.endsWith('/record.json')) ids.push(item.name.slice(0, -'/record.json'.length));
    }
    return ids;
  }

  /** Appends text to a step's log (an append blob, created on first use). */
  async appendLog(id: string, step: string, text: string): Promise<void> {
    const blob = this.logBlob(id, step);
    const bytes = Buffer.from(text, 'utf8');
    for (let offset = 0; offset < bytes.length; offset += MAX_APPEND_BYTES) {
      const chunk = bytes.subarray(offset, offset + MAX_APPEND_BYTES);
      // The log usually exists: append first, and create it only when the append says it is missing.
      await blob.appendBlock(chunk, chunk.length).catch(async (error: unknown) => {
        if (offset > 0 || !isNotFound(error)) throw error;
        await blob.createIfNotExists({ blobHTTPHeaders: { blobContentType: 'text/plain; charset=utf-8' } });
        await blob.appendBlock(chunk, chunk.length);
      });
    }
  }

  /** A step log's length in bytes (0 when it has none yet). */
  async logLength(id: string, step: string): Promise<number> {
    try {
      return (await this.logBlob(id, step).getProperties()).contentLength ?? 0;
    } catch (error) {
      if (isNotFound(error)) return 0;
      throw error;
    }
  }

  /**
   * Appends `bytes` only if the log is exactly `position` bytes long (a write that must happen once); returns the
   * new length, or undefined when the log had another length (an earlier attempt already wrote there).
   */
  async appendLogAt(id: string, step: string, bytes: Buffer, position: number): Promise<number | undefined> {
    const blob = this.logBlob(id, step);
    const create = () => blob.createIfNotExists({ blobHTTPHeaders: { blobContentType: 'text/plain; charset=utf-8' } });
    // A log already `position` > 0 bytes long exists: no create round trip (a missing one is still created below).
    if (position === 0) await create();
    let at = position;
    for (let offset = 0; offset < bytes.length; offset += MAX_APPEND_BYTES) {
      const chunk = bytes.subarray(offset, offset + MAX_APPEND_BYTES);
      const append = () => blob.appendBlock(chunk, chunk.length, { conditions: { appendPosition: at } });
      try {
        await append().catch(async (error: unknown) => {
          if (offset > 0 || position === 0 || !isNotFound(error)) throw error;
          await create();
          await append();
        });
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 412 && offset === 0) return undefined;
        throw error;
      }
      at += chunk.length;
    }
    return at;
  }

  /** One step log's bytes from `offset` on (empty when it has none). */
  async readLog(id: string, step: string, offset = 0): Promise<Buffer> {
    const length = await this.logLength(id, step);
    return length > offset ? this.logBlob(id, step).downloadToBuffer(offset, length - offset) : Buffer.alloc(0);
  }

  /** Every step's log from the byte offsets in `from` on (a step missing there from its start), in the order the steps wrote them first. */
  async readLogsFrom(id: string, from: Record<string, number>): Promise<StepLog[]> {
    const logs: (StepLog & { createdOn: number; offset: number; length: number })[] = [];
    for await (const item of this.container.listBlobsFlat({ prefix: `${id}/logs/` })) {
      const step = item.name.slice(`${id}/logs/`.length).replace(/\.log$/, '');
      const offset = from[step] ?? 0;
      const size = item.properties.contentLength ?? 0;
      // Read up to the size listed, so the offset returned matches exactly what was read.
      const text = size > offset ? (await this.container.getBlobClient(item.name).downloadToBuffer(offset, size - offset)).toString('utf8') : '';
      logs.push({ step, text, createdOn: item.properties.createdOn?.getTime() ?? 0, offset, length: size });
    }
    logs.sort((a, b) => a.createdOn - b.createdOn);
    return logs.map(({ step, text, length }) => ({ step, text, length }));
  }

  private logBlob(id: string, step: string) {
    if (!LOG_NAME.test(step)) throw new Error(`run log: expected a step name of lower-case letters, digits and dashes, found ${JSON.stringify(step)}`);
    return this.container.getAppendBlobClient(`${id}/logs/${step}.log`);
  }

  /** Every step's log, in the order the steps wrote them first. */
  async readLogs(id: string): Promise<StepLog[]> {
    return (await this.readLogsFrom(id, {})).map(({ step, text }) => ({ step, text }));
  }

  /** Saves one sub-orchestration's progress slice (`region-westeurope`, `scaleset-0`). */
  async putProgress(id: string, key: string, progress: RegionProgress | ScaleSetProgress): Promise<void> {
    if (!LOG_NAME.test(key)) throw new Error(`run progress: expected a key of lower-case letters, digits and dashes, found ${JSON.stringify(key)}`);
    const body = JSON.stringify(progress);
    await this.container.getBlockBlobClient(`${id}/progress/${key}.json`).upload(body, Buffer.byteLength(body), {
      blobHTTPHeaders: { blobContentType: 'application/json' },
    });
  }

  /** One saved slice; undefined before its first save. */
  readProgressSlice(id: string, key: string): Promise<RegionProgress | ScaleSetProgress | undefined> {
    return this.readJson<RegionProgress | ScaleSetProgress>(`${id}/progress/${key}.json`);
  }

  async readProgress(id: string): Promise<(RegionProgress | ScaleSetProgress)[]> {
    const slices: (RegionProgress | ScaleSetProgress)[] = [];
    for await (const item of this.container.listBlobsFlat({ prefix: `${id}/progress/` })) {
      const slice = await this.readJson<RegionProgress | ScaleSetProgress>(item.name);
      if (slice) slices.push(slice);
    }
    return slices;
  }

  private readRecord(id: string): Promise<RunRecord | undefined> {
    return this.readJson<RunRecord>(`${id}/record.json`);
  }

  /**
   * A JSON blob; undefined when there is none. Azurite can serve a blob that is being overwritten half-written
   * (a short stream, or JSON cut off): a read a moment later sees the whole one.
   */
  private async readJson<T>(name: string): Promise<T | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        const buffer = await this.container.getBlobClient(name).downloadToBuffer();
        return JSON.parse(buffer.toString('utf8')) as T;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        if (attempt >= TORN_READ_ATTEMPTS) throw new Error(`runs/${name}: unreadable after ${attempt} reads`, { cause: error });
        await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
      }
    }
  }
}

/** The run store on a blob service's `runs` container (created if missing). */
export async function openRunStore(blobs: BlobServiceClient): Promise<RunStore> {
  const container = blobs.getContainerClient(RUNS_CONTAINER);
  await container.createIfNotExists();
  return new RunStore(container);
}

function statusOf(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null ? (error as { statusCode?: number }).statusCode : undefined;
}

export function isNotFound(error: unknown): boolean {
  return statusOf(error) === 404;
}
