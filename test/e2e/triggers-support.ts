/**
 * Helpers the trigger e2e tests share: a local default per test file, waiting for runs to appear and end, and running
 * the `kiln` command.
 */

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KilnClient } from '../../src/api/client.ts';
import { startLocalDefault, type LocalDefault, type LocalDefaultOptions } from '../../local/default.ts';
import { FINAL_RUN_STATUSES, type RunRecord } from '../../src/runs/record.ts';

export const repo = join(import.meta.dirname, '../..');

/**
 * Runs `kiln …args` from the repo to its exit. KILN_ENDPOINT and KILN_API_KEY are blanked so a developer's own
 * settings cannot point the command elsewhere.
 */
export function runKiln(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', 'cli/main.ts', ...args], {
      cwd: repo,
      env: { ...process.env, KILN_ENDPOINT: '', KILN_API_KEY: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface TestDefault {
  local: LocalDefault;
  client: KilnClient;
  close(): Promise<void>;
}

/** The local default on free ports in a fresh KILN_HOME, with the emulator's zero-latency profile. */
export async function startTestDefault(options: Partial<LocalDefaultOptions> = {}): Promise<TestDefault> {
  const home = await mkdtemp(join(tmpdir(), 'kiln-e2e-'));
  const local = await startLocalDefault({
    home, functionsPort: 0, armPort: 0, keyVaultPort: 0, blobPort: 0, profile: 'zero', ...options,
  });
  return {
    local,
    client: new KilnClient(local.functionsUrl, { key: local.apiKey }),
    async close() {
      await local.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}

/**
 * An example template; given a local default, its file downloads point at that emulator (the examples name the
 * default ARM port, 8443, and these tests run on free ports).
 */
export async function exampleTemplate(name: string, local?: LocalDefault): Promise<Record<string, unknown>> {
  const text = await readFile(join(repo, 'examples', `${name}.json`), 'utf8');
  const fitted = local ? text.replaceAll('https://127.0.0.1:8443/', `${new URL(local.armEndpoint).origin}/`) : text;
  return JSON.parse(fitted) as Record<string, unknown>;
}


/**
 * Calls `look` every `intervalMs` until it finds something, and returns that. `what` may be a function, so the
 * timeout message can describe the last state seen.
 */
export async function poll<T>(what: string | (() => string), timeoutMs: number, look: () => Promise<T | undefined>, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await look();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Waits for a run to end and returns its record. */
export function waitForEnd(client: KilnClient, id: string, timeoutMs = 90_000): Promise<RunRecord> {
  return poll(`run ${id} to end`, timeoutMs, async () => {
    const run = await client.getRun<RunRecord>(id);
    return FINAL_RUN_STATUSES.has(run.status) ? run : undefined;
  });
}

/** Waits until a run's step is Running (so a kill or cancel lands mid-step) and returns the run as then seen. */
export function waitForStepRunning(client: KilnClient, id: string, step: string, timeoutMs = 30_000): Promise<RunRecord> {
  let last: RunRecord | undefined;
  return poll(() => `step ${step} to start: ${last ? describeRun(last) : id}`, timeoutMs, async () => {
    last = await client.getRun<RunRecord>(id);
    return last.steps.find((s) => s.name === step)?.status === 'Running' ? last : undefined;
  }, 50);
}

/** Waits for a run matching `match` to appear (newest first) and returns it. */
export function waitForRun(client: KilnClient, match: (run: RunRecord) => boolean, timeoutMs = 30_000): Promise<RunRecord> {
  return poll('a matching run', timeoutMs, async () => {
    const page = await client.listRuns<RunRecord>({ limit: 100 });
    return page.items.find(match);
  });
}

/** A readable failure: the run's error and steps when it did not succeed. */
export function describeRun(run: RunRecord): string {
  return JSON.stringify({ id: run.id, status: run.status, error: run.error, steps: run.steps.map((s) => `${s.name}:${s.status}`) });
}
