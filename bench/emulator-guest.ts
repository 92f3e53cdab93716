/**
 * Emulator guest and vault benchmark (`npm run bench:guest`): Key Vault getSecret through the real SecretClient,
 * VM disk create + provision, Run Command scripts in the sandbox (cold boot and warm), and image capture of a
 * customized disk. Prints measured figures; nothing is asserted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretClient } from '@azure/keyvault-secrets';
import { createDiskFrom, provisionDisk, snapshotDisk, type Disk } from '../local/azure/disks.ts';
import { startKeyVaultServer } from '../local/azure/keyvault.ts';
import { createSandbox } from '../local/azure/sandbox.ts';
import { loadOrCreateCertificate } from '../local/azure/tls.ts';

const SECRET_GETS = Number(process.env.BENCH_SECRET_GETS ?? 2_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const DISKS = Number(process.env.BENCH_DISKS ?? 20);
const SCRIPTS = Number(process.env.BENCH_SCRIPTS ?? 50);
const CAPTURE_FILES = Number(process.env.BENCH_CAPTURE_FILES ?? 2_000);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function report(label: string, samples: number[], totalMs?: number): void {
  const sorted = [...samples].sort((a, b) => a - b);
  const rate = totalMs === undefined ? '' : `  ${((samples.length / totalMs) * 1000).toFixed(0)} ops/s`;
  console.log(
    `${label.padEnd(44)} n=${String(samples.length).padEnd(5)} p50 ${percentile(sorted, 50).toFixed(1).padStart(7)} ms  p99 ${percentile(sorted, 99).toFixed(1).padStart(7)} ms${rate}`,
  );
}

async function timed<T>(samples: number[], action: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await action();
  samples.push(performance.now() - started);
  return result;
}

const home = mkdtempSync(join(tmpdir(), 'kiln-bench-guest-'));
try {
  const cert = await loadOrCreateCertificate(home);

  const vault = await startKeyVaultServer({ home, tls: cert, seedSecrets: { 'db-password': 'bench-value' } });
  const credential = { getToken: async () => ({ token: 'bench', expiresOnTimestamp: Date.now() + 3_600_000 }) };
  const secrets = new SecretClient(vault.url, credential, { tlsOptions: { ca: cert.caPem }, disableChallengeResourceVerification: true });
  await secrets.getSecret('db-password'); // the challenge handshake, once per client
  const sequential: number[] = [];
  let started = performance.now();
  for (let index = 0; index < SECRET_GETS; index += 1) await timed(sequential, () => secrets.getSecret('db-password'));
  report('Key Vault getSecret, sequential', sequential, performance.now() - started);
  const concurrent: number[] = [];
  started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let index = 0; index < SECRET_GETS / CONCURRENCY; index += 1) await timed(concurrent, () => secrets.getSecret('db-password'));
    }),
  );
  report(`Key Vault getSecret, ${CONCURRENCY} concurrent`, concurrent, performance.now() - started);
  await vault.close();

  const sandbox = await createSandbox({ home, caPem: cert.caPem });
  const provisioned: number[] = [];
  const disks: Disk[] = [];
  for (let index = 0; index < DISKS; index += 1) {
    disks.push(
      await timed(provisioned, async () => {
        const disk = await createDiskFrom(null, join(home, 'disks', `vm${index}`));
        await provisionDisk(disk, { adminUsername: 'azureuser', hostname: `vm${index}` });
        return disk;
      }),
    );
  }
  report('disk create + provision', provisioned);

  if (!sandbox.isolation.isolated) {
    console.log(`sandbox: scripts are not run here (${sandbox.isolation.reason}); guest figures skipped`);
  } else {
    const cold: number[] = [];
    for (const disk of disks) await timed(cold, () => sandbox.runScript({ disk, script: 'true', timeoutSec: 30 }));
    report('runScript, cold (guest boot + script)', cold);
    const warm: number[] = [];
    for (let index = 0; index < SCRIPTS; index += 1) await timed(warm, () => sandbox.runScript({ disk: disks[0]!, script: 'echo hi', timeoutSec: 30 }));
    report('runScript, warm guest', warm);

    const customized = disks[1]!;
    await sandbox.runScript({
      disk: customized,
      script: `mkdir -p /opt/bench && for i in $(seq 1 ${CAPTURE_FILES}); do head -c 16384 /dev/urandom > /opt/bench/f$i; done`,
      timeoutSec: 600,
    });
    await sandbox.stopGuest(customized);
    const capture: number[] = [];
    const image = await timed(capture, () => snapshotDisk(customized, join(home, 'images', 'v1')));
    report(`capture (${CAPTURE_FILES} files, ${((CAPTURE_FILES * 16) / 1024).toFixed(0)} MB)`, capture);
    const fromImageTimes: number[] = [];
    for (let index = 0; index < 5; index += 1) {
      await timed(fromImageTimes, () => createDiskFrom(image, join(home, 'disks', `from-image-${index}`)));
    }
    report(`disk from that image (linked copy)`, fromImageTimes);
    const recapture: number[] = [];
    const fromImage = await createDiskFrom(image, join(home, 'disks', 'from-image'));
    await sandbox.runScript({ disk: fromImage, script: 'echo more > /opt/bench/extra', timeoutSec: 30 });
    await sandbox.stopGuest(fromImage);
    await timed(recapture, () => snapshotDisk(fromImage, join(home, 'images', 'v2')));
    report('recapture over that image (hard links)', recapture);
  }
  await sandbox.close();
} finally {
  rmSync(home, { recursive: true, force: true });
}
