/** What the sandbox modules share: their error, running a host command, and waiting on a condition or a file. */
import { spawn } from 'node:child_process';
import { access } from 'node:fs/promises';

export class SandboxError extends Error {
  override name = 'SandboxError';
}

export const GUEST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const BOOT_TIMEOUT_MS = 15_000;
export const isRoot = process.getuid?.() === 0;

export function run(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => done({ code: null, stderr: error.message }));
    child.on('close', (code) => done({ code, stderr }));
  });
}

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

export async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new SandboxError(`guest: timed out waiting for ${what}`);
    await sleep(20);
  }
}
