/** Live Run Command output on a real Azurite: in order, masked, once across retried polls, multi-line secrets whole. */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type Azurite } from '../../local/azurite.ts';
import type { AzureClients } from '../../src/azure/clients.ts';
import { deleteRunCommandBlobs, RUN_COMMAND_OUTPUT_CONTAINER } from '../../src/azure/runCommandBlobs.ts';
import type { RunCommandRef } from '../../src/activities/customize.ts';
import type { ActivityEnvironment } from '../../src/activities/environment.ts';
import { followOutput, followRunning, releasable, startLiveOutput } from '../../src/activities/live-output.ts';
import { openRunStore, type RunStore } from '../../src/runs/store.ts';

let dir: string;
let azurite: Azurite;
let blobs: BlobServiceClient;
let runs: RunStore;
let env: ActivityEnvironment;
let counter = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-live-'));
  azurite = await startAzurite({ location: dir, port: 0 });
  blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
  runs = await openRunStore(blobs);
  await blobs.getContainerClient(RUN_COMMAND_OUTPUT_CONTAINER).createIfNotExists();
  env = { config: {} as ActivityEnvironment['config'], clients: { blobs } as AzureClients, runStore: async () => runs };
});

afterAll(async () => {
  await azurite?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A customizer's operation whose step header is already in the log, and a writer for its output blobs. */
async function started(): Promise<{ ref: RunCommandRef; runId: string; write(stream: 'stdout' | 'stderr', text: string): Promise<void> }> {
  const runId = `live-20261206T100000Z-${String(++counter).padStart(4, '0')}`;
  await runs.appendLog(runId, 'customize', '== customize 1: app (Shell) started\n');
  const ref: RunCommandRef = {
    kind: 'run-command',
    resourceId: 'rc',
    runId,
    resourceGroup: 'rg',
    vm: 'vm',
    name: 'kiln-customize-0',
    phase: 'customize',
    step: 'app',
    stepType: 'Shell',
    location: 'eastus',
    validExitCodes: [0],
    secretRefs: {},
    restartCheck: null,
  };
  const container = blobs.getContainerClient(RUN_COMMAND_OUTPUT_CONTAINER);
  return {
    ref: await startLiveOutput(env, ref),
    runId,
    async write(stream, text) {
      const blob = container.getAppendBlobClient(`${runId}/kiln-customize-0.${stream}`);
      await blob.createIfNotExists();
      await blob.appendBlock(text, Buffer.byteLength(text));
    },
  };
}

const log = async (runId: string) => (await runs.readLog(runId, 'customize')).toString('utf8');

describe('followOutput', () => {
  it('appends whole lines as they are written and the rest with the verdict at the end', async () => {
    const { ref, runId, write } = await started();
    await write('stdout', 'first line\nsecond, half');
    const after1 = await followOutput(env, ref);
    expect(await log(runId)).toBe('== customize 1: app (Shell) started\nfirst line\n');
    await write('stdout', ' done\nthird');
    await write('stderr', 'a warning\n');
    const after2 = await followOutput(env, after1);
    expect(await log(runId)).toBe('== customize 1: app (Shell) started\nfirst line\nsecond, half done\nstderr| a warning\n');
    await followOutput(env, after2, { final: true, secrets: [], trailer: '== customize app succeeded\n' });
    expect(await log(runId)).toBe(
      '== customize 1: app (Shell) started\nfirst line\nsecond, half done\nstderr| a warning\nthird\n== customize app succeeded\n',
    );
  });

  it('writes nothing twice when a poll is retried after its append landed, with more output by then', async () => {
    const { ref, runId, write } = await started();
    await write('stdout', 'one\n');
    await write('stderr', 'err one\n');
    await followOutput(env, ref); // its result is lost: the orchestration polls again with `ref`
    await write('stdout', 'two\n');
    await write('stderr', 'err two\n');
    const retried = await followOutput(env, ref);
    const final = await followOutput(env, retried, { final: true, secrets: [], trailer: '== end\n' });
    await followOutput(env, retried, { final: true, secrets: [], trailer: '== end\n' }); // the final poll retried too
    const text = await log(runId);
    for (const line of ['one', 'two', 'stderr| err one', 'stderr| err two', '== end']) {
      expect(text.split('\n').filter((l) => l === line), line).toHaveLength(1);
    }
    // Each stream stays in its own order.
    expect(text.indexOf('\none\n')).toBeLessThan(text.indexOf('\ntwo\n'));
    expect(text.indexOf('err one')).toBeLessThan(text.indexOf('err two'));
    expect(final.liveOutput).toEqual({ stdout: 8, stderr: 16, log: Buffer.byteLength(text) });
  });

  it('writes nothing twice when the step is begun again after several polls logged interleaved output', async () => {
    const { ref, runId, write } = await started();
    await write('stdout', 'one\n');
    const p1 = await followOutput(env, ref);
    await write('stderr', 'warn\n\n');
    const p2 = await followOutput(env, p1);
    await write('stdout', 'two\n');
    await followOutput(env, p2);
    // The operation was begun again: its Run Command was found running, so the cursor starts at the step's header.
    const again = await startLiveOutput(env, ref);
    expect(again.liveOutput).toEqual(ref.liveOutput);
    await write('stdout', 'three\n');
    await followOutput(env, again, { final: true, secrets: [], trailer: '== end\n' });
    expect(await log(runId)).toBe('== customize 1: app (Shell) started\none\nstderr| warn\nstderr| \ntwo\nthree\n== end\n');
  });

  it('masks secrets, and holds back the start of a multi-line secret until it is whole', async () => {
    const { ref, runId, write } = await started();
    const pem = '-----BEGIN KEY-----\nc2VjcmV0\n-----END KEY-----';
    await write('stdout', 'token=hunter2\n-----BEGIN KEY-----\n');
    const next = await followOutput(env, ref, { secrets: ['hunter2', pem] });
    expect(await log(runId)).toBe('== customize 1: app (Shell) started\ntoken=***\n');
    await write('stdout', 'c2VjcmV0\n-----END KEY-----\nbye\n');
    await followOutput(env, next, { secrets: ['hunter2', pem] });
    const text = await log(runId);
    expect(text).toBe('== customize 1: app (Shell) started\ntoken=***\n***\nbye\n');
    expect(text).not.toContain('c2VjcmV0');
  });

  it('reads a running command\'s output at most once per KILN_POLL_MIN_MS, however often quick looks come', async () => {
    const { ref, runId, write } = await started();
    const paced = { ...env, config: { ...env.config, pollMinMs: 60_000 } };
    await write('stdout', 'one\n');
    const first = await followRunning(paced, ref);
    expect(first.liveOutput?.readAt).toBeGreaterThan(0);
    await write('stdout', 'two\n');
    // A look within the interval reads nothing and keeps the cursor; once it has passed, the output is read again.
    expect(await followRunning(paced, first)).toBe(first);
    expect(await log(runId)).toBe('== customize 1: app (Shell) started\none\n');
    await followRunning({ ...env, config: { ...env.config, pollMinMs: 0 } }, first);
    expect(await log(runId)).toBe('== customize 1: app (Shell) started\none\ntwo\n');
  });
});

describe('releasable', () => {
  it('stops at the last newline, and before a line that may begin a multi-line secret', () => {
    expect(releasable(Buffer.from('a\nb'), [])).toBe(2);
    expect(releasable(Buffer.from('a\nBEGIN\n'), ['BEGIN\nx'])).toBe(2);
    expect(releasable(Buffer.from('a\nkey: BEG'), ['BEGIN\nx'])).toBe(2);
    expect(releasable(Buffer.from('a\nBEGIN\nx\n'), ['BEGIN\nx'])).toBe(10);
  });
});

describe('run command output blobs', () => {
  it('are deleted by name for one run command (others stay), and deleting them again is harmless', async () => {
    const container = blobs.getContainerClient(RUN_COMMAND_OUTPUT_CONTAINER);
    const runId = `blobs-20261206T100000Z-${String(++counter).padStart(4, '0')}`;
    for (const blob of ['kiln-customize-0.stdout', 'kiln-customize-0.stderr', 'kiln-customize-1.stdout']) {
      await container.getAppendBlobClient(`${runId}/${blob}`).createIfNotExists();
    }
    const left = async () => {
      const names: string[] = [];
      for await (const item of container.listBlobsFlat({ prefix: `${runId}/` })) names.push(item.name.slice(runId.length + 1));
      return names;
    };
    await deleteRunCommandBlobs({ blobs } as AzureClients, runId, 'kiln-customize-0');
    expect(await left()).toEqual(['kiln-customize-1.stdout']);
    await deleteRunCommandBlobs({ blobs } as AzureClients, runId, 'kiln-customize-0');
    await deleteRunCommandBlobs({ blobs } as AzureClients, runId);
    expect(await left()).toEqual([]);
  });
});
