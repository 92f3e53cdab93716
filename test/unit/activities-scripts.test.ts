import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customizerScript, deprovisionScript, shQuote, updatePassIn } from '../../src/activities/scripts.ts';
import type { ShellCustomizer } from '../../src/template/spec.ts';

// The Linux scripts are run for real with bash and curl against a local file server: what the VM would do.
const files: Record<string, string> = {
  '/motd': 'welcome to kiln\n',
  '/setup.sh': '#!/bin/bash\necho "setup ran with $GREETING" > "$OUT_FILE"\n',
};
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

let server: Server;
let base: string;
let dir: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const body = files[req.url ?? ''];
    res.writeHead(body === undefined ? 404 : 200).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'kiln-scripts-'));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** Runs a script asynchronously (the file server lives in this process, so a blocking spawn would deadlock). */
function runBash(script: string, env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { env: { PATH: process.env.PATH, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('File customizer (Linux)', () => {
  it('downloads the file into place when the checksum matches', async () => {
    const destination = join(dir, "it's here", 'motd');
    const { script } = customizerScript({ type: 'File', name: 'motd', sourceUri: `${base}/motd`, destination, sha256Checksum: sha(files['/motd']!) }, 'Linux');
    const run = await runBash(script);
    expect(run.status, run.stderr).toBe(0);
    expect(readFileSync(destination, 'utf8')).toBe(files['/motd']);
  });

  it('refuses a file whose checksum differs and leaves nothing at the destination', async () => {
    const destination = join(dir, 'bad', 'motd');
    const wrong = 'a'.repeat(64);
    const { script } = customizerScript({ type: 'File', name: 'motd', sourceUri: `${base}/motd`, destination, sha256Checksum: wrong }, 'Linux');
    const run = await runBash(script);
    expect(run.status).toBe(97);
    expect(run.stderr).toContain(`expected ${wrong}, found ${sha(files['/motd']!)}`);
    expect(existsSync(destination)).toBe(false);
    expect(existsSync(`${destination}.kiln-part`)).toBe(false);
  });

  it('fails when the download fails', async () => {
    const { script } = customizerScript({ type: 'File', name: 'x', sourceUri: `${base}/missing`, destination: join(dir, 'missing') }, 'Linux');
    expect((await runBash(script)).status).not.toBe(0);
  });

  it('rejects a checksum that is not 64 hex digits before anything runs', async () => {
    expect(() => customizerScript({ type: 'File', name: 'x', sourceUri: `${base}/motd`, destination: '/tmp/x', sha256Checksum: 'abc' }, 'Linux')).toThrow(
      /expected sha256Checksum of 64 hex digits, found "abc"/,
    );
  });
});

describe('Shell customizer', () => {
  it('runs a scriptUri only after its checksum is verified, with the environment (protectedParameters) passed on', async () => {
    const out = join(dir, 'setup.out');
    const ok = customizerScript({ type: 'Shell', name: 'setup', script: { kind: 'uri', uri: `${base}/setup.sh`, sha256Checksum: sha(files['/setup.sh']!) }, secrets: [] }, 'Linux');
    const run = await runBash(ok.script, { GREETING: 'hello', OUT_FILE: out });
    expect(run.status, run.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('setup ran with hello\n');

    const tampered = customizerScript({ type: 'Shell', name: 'setup', script: { kind: 'uri', uri: `${base}/setup.sh`, sha256Checksum: 'b'.repeat(64) }, secrets: [] }, 'Linux');
    const out2 = join(dir, 'setup2.out');
    expect((await runBash(tampered.script, { GREETING: 'x', OUT_FILE: out2 })).status).toBe(97);
    expect(existsSync(out2)).toBe(false);
  });

  it('stops inline scripts at the first failing line with its exit code', async () => {
    const { script } = customizerScript({ type: 'Shell', name: 'inline', script: { kind: 'inline', lines: ['echo one', 'exit 3', 'echo never'] }, secrets: [] }, 'Linux');
    const run = await runBash(script);
    expect(run.status).toBe(3);
    expect(run.stdout).toBe('one\n');
  });

  it('refuses steps that do not fit the OS', async () => {
    expect(() => customizerScript({ type: 'Shell', name: 's', script: { kind: 'inline', lines: ['true'] }, secrets: [] }, 'Windows')).toThrow(/runs on Linux, but the build VM runs Windows/);
    expect(() =>
      customizerScript({ type: 'WindowsRestart', name: 'r', restartCommand: 'shutdown /r', restartTimeout: { iso: 'PT5M', ms: 300_000 } }, 'Linux'),
    ).toThrow(/runs on Windows/);
  });
});

describe('Windows scripts', () => {
  it('check a File download with Get-FileHash before moving it into place', async () => {
    const { script } = customizerScript({ type: 'File', name: 'f', sourceUri: 'https://x/y.zip', destination: 'C:\\tools\\y.zip', sha256Checksum: 'C'.repeat(64) }, 'Windows');
    expect(script).toContain(`Invoke-WebRequest -UseBasicParsing -Uri 'https://x/y.zip' -OutFile 'C:\\tools\\y.zip.kiln-part'`);
    expect(script).toContain(`Get-FileHash -Algorithm SHA256`);
    expect(script).toContain(`-ne '${'c'.repeat(64)}'`);
    expect(script.indexOf('Get-FileHash')).toBeLessThan(script.indexOf('Move-Item'));
  });

  it('count a PowerShell step by its validExitCodes and start restarts detached', async () => {
    const ps = customizerScript({ type: 'PowerShell', name: 'p', script: { kind: 'inline', lines: ['Write-Output hi'] }, secrets: [], runElevated: true, runAsSystem: true, validExitCodes: [0, 3010] }, 'Windows');
    expect(ps.validExitCodes).toEqual([0, 3010]);
    const restart = customizerScript({ type: 'WindowsRestart', name: 'r', restartCommand: 'shutdown /r /f /t 0', restartTimeout: { iso: 'PT10M', ms: 600_000 } }, 'Windows');
    expect(restart.script).toContain('Start-Process');
    expect(restart.timeoutInSeconds).toBe(600);
  });

  it('read a Windows Update pass report, and take the step time up to the Run Command cap', () => {
    expect(updatePassIn('kiln-boot:2026-01-01T00:00:00Z\nkiln-updates: installed=3 restart=true\n')).toEqual({ installed: 3, restart: true });
    expect(updatePassIn('kiln-updates: installed=0 restart=false')).toEqual({ installed: 0, restart: false });
    expect(updatePassIn('installed 3 updates')).toBeUndefined();
    const shell: ShellCustomizer = { type: 'Shell', name: 's', script: { kind: 'inline', lines: ['true'] }, secrets: [] };
    expect(customizerScript(shell, 'Linux', 10 * 60_000).timeoutInSeconds).toBe(600);
    expect(customizerScript(shell, 'Linux', 5 * 3600_000).timeoutInSeconds).toBe(5400);
  });

  it('turn WindowsUpdate filters into predicates and reject malformed ones', async () => {
    const wu = customizerScript({ type: 'WindowsUpdate', name: 'wu', searchCriteria: 'IsInstalled=0', filters: ["exclude:$_.Title -like '*Preview*'", 'include:$true'], updateLimit: 20 }, 'Windows');
    expect(wu.script).toContain("Search('IsInstalled=0')");
    expect(wu.script).toContain("-not ($_ | Where-Object { $_.Title -like '*Preview*' })");
    expect(wu.script).toContain('$updateLimit = 20');
    expect(wu.script).toContain('$selected.Count -ge $updateLimit');
    expect(() => customizerScript({ type: 'WindowsUpdate', name: 'wu', searchCriteria: 'x', filters: ['nope'], updateLimit: 1 }, 'Windows')).toThrow(/expected "include:<expression>"/);
  });
});

describe('deprovision', () => {
  it('starts waagent detached and cleans machine-id and cloud-init state before shutting down', async () => {
    const { script } = deprovisionScript('Linux');
    expect(script).toMatch(/nohup setsid \/bin\/bash -c '.*' >\/dev\/null 2>&1 &/);
    const detached = script.slice(script.indexOf("-c '"));
    for (const part of ['cloud-init clean --logs', 'truncate -s 0 /etc/machine-id', 'waagent -force -deprovision+user', 'shutdown -h now']) expect(detached).toContain(part);
    // Shut down (and so let capture proceed) only after a successful deprovision.
    expect(detached).toContain('waagent -force -deprovision+user && { export HISTSIZE=0; sync; shutdown -h now; }');
  });

  it('returns at once: the foreground part only launches the background job', async () => {
    // Replace the detached body by a marker job to prove the foreground script exits before it finishes.
    const marker = join(dir, 'detached-done');
    const script = deprovisionScript('Linux').script.replace(/-c '.*' >/, `-c ${shQuote(`sleep 1; touch ${marker}`)} >`);
    const run = await runBash(script);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('deprovision started');
    expect(existsSync(marker)).toBe(false);
  });

  it('runs sysprep with /generalize /oobe /mode:vm on Windows, detached', async () => {
    const { script } = deprovisionScript('Windows');
    expect(script).toContain('/oobe /generalize /quiet /quit /mode:vm');
    expect(script).toContain('IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE');
    expect(script).toContain('Start-Process');
  });
});
