/**
 * Crash safety: the host child process is killed with SIGKILL at random points and restarted on the same store.
 * Every instance must finish with the right output, every event must arrive, a locked counter must count each
 * instance once, and a completed activity must never run again: each run of the Record activity appends its nonce to a file, so the nonce an instance's history kept
 * must be the last run of that activity.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { durableApps } from './durable-helpers.ts';

const root = join(import.meta.dirname, '../..');
const home = mkdtempSync(join(tmpdir(), 'kiln-durable-crash-'));
const recordFile = join(home, 'records.txt');
const children = new Set<ChildProcess>();
const INSTANCES = 6;
const KILLS = INSTANCES + 5;
const ADMIN_KEY = 'crash-test-admin-key';

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(home, { recursive: true, force: true });
});

async function startHost(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', 'local/host/main.ts', '--app', join(durableApps, 'app.ts'), '--home', home,
      '--port', '0', '--host-json', join(durableApps, 'host.json'), '--admin-key', ADMIN_KEY],
    { cwd: root, env: { ...process.env, DURABLE_TEST_HUB: 'crash', DURABLE_TEST_RECORD_FILE: recordFile }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  child.once('exit', () => children.delete(child));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line.startsWith('{')) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`host exited with ${code} before ready: ${stderr}`)));
  });
  return { child, url };
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

// The management webhooks, opened by the admin key (the client's RPC routes need the binding's secret token).
const rpc = (url: string, path: string, init?: RequestInit) =>
  fetch(`${url}/runtime/webhooks/durabletask/${path}`, { ...init, headers: { 'x-functions-key': ADMIN_KEY } });
const ids = Array.from({ length: INSTANCES }, (_, i) => `crash-${i}`);

describe('durable engine: kill -9 at random points', () => {
  it(`carries every instance on across ${KILLS} SIGKILLs, running no completed activity twice`, async () => {
    let host = await startHost();
    for (let round = 0; round < KILLS; round++) {
      // Starts and events land between crashes, each acknowledged before the next kill: none may be lost.
      if (round < INSTANCES) {
        expect((await rpc(host.url, `orchestrators/CrashChain/${ids[round]}`, { method: 'POST', body: '' })).status).toBe(202);
      }
      const waiting = ids[round - 4];
      if (waiting !== undefined) {
        expect((await rpc(host.url, `instances/${waiting}/raiseEvent/go`, { method: 'POST', body: `"r${round}"` })).status).toBe(202);
      }
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 150));
      await kill(host.child);
      host = await startHost();
    }
    const deadline = Date.now() + 20_000;
    const statuses = new Map<string, { runtimeStatus: string; output: unknown; history: { EventType: string; TaskScheduledId?: number; Result?: unknown }[] }>();
    for (const id of ids) {
      for (;;) {
        const response = await rpc(host.url, `instances/${id}?showHistory=true&showHistoryOutput=true`);
        const status = (await response.json()) as { runtimeStatus: string; output: unknown; history: [] };
        if (status.runtimeStatus === 'Completed' || status.runtimeStatus === 'Failed' || Date.now() > deadline) {
          statuses.set(id, status);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const counter = (await (await rpc(host.url, 'entities/Counter/crash')).json()) as number;
    await kill(host.child);

    const lines = readFileSync(recordFile, 'utf8').trim().split('\n');
    const starts = lines.filter((line) => line.startsWith('start '));
    const runs = lines.filter((line) => !line.startsWith('start '));
    const lastRun = new Map<string, string>();
    for (const nonce of runs) lastRun.set(nonce.split('#')[0]!, nonce);
    if (process.env.DURABLE_CRASH_STATS) console.log(`${starts.length} starts, ${runs.length} finished runs for ${INSTANCES * 11} activities`);
    for (const id of ids) {
      const status = statuses.get(id)!;
      expect(status.runtimeStatus, `${id}`).toBe('Completed');
      const output = status.output as string[];
      const keys = output.map((nonce) => nonce.split('#')[0]);
      expect(keys).toEqual(
        [0, 1, 2, 3, 4].map((i) => `${id}/seq${i}`).concat(
          [0, 1, 2].map((i) => `${id}/par${i}`),
          [`${id}/after-r${ids.indexOf(id) + 4}`, `${id}/child0`, `${id}/child1`],
        ),
      );
      for (const nonce of output) expect(lastRun.get(nonce.split('#')[0]!), `last run of ${nonce}`).toBe(nonce);
      // Exactly one completion per activity in the history.
      const completed = status.history.filter((e) => e.EventType === 'TaskCompleted');
      expect(completed).toHaveLength(9);
    }
    expect(counter).toBe(INSTANCES);
  }, 240_000); // 11 host restarts: generous for a loaded 2-core machine
});
