/** Starts Azurite's blob service as a child process (the local default's storage) and stops it again. */
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Azurite's well-known development account (public, documented; not a secret). */
const ACCOUNT = 'devstoreaccount1';
const ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const READY_TIMEOUT_MS = 30_000;

export interface AzuriteOptions {
  /** Where Azurite keeps its data; default `{home}/azurite`. */
  location?: string;
  /** KILN_HOME, used when `location` is not given. */
  home?: string;
  /** Blob port; 0 or absent = a free port. */
  port?: number;
}

export interface Azurite {
  port: number;
  /** http://127.0.0.1:PORT/devstoreaccount1 */
  blobEndpoint: string;
  connectionString: string;
  close(): Promise<void>;
}

export async function startAzurite(options: AzuriteOptions): Promise<Azurite> {
  const location = options.location ?? (options.home ? join(options.home, 'azurite') : undefined);
  if (!location) throw new Error('startAzurite: expected a location or a home directory for its data, found neither');
  await mkdir(location, { recursive: true });
  await stopOrphan(location);
  // Azurite's blob service with every write saved before it is acknowledged, on this Node (22).
  const child = spawn(
    process.execPath,
    [
      '--disable-warning=ExperimentalWarning',
      join(repoRoot, 'local/azurite-durable.ts'),
      // Without it Azurite tries to send telemetry to the internet (verified-here.md).
      '--disableTelemetry',
      '--skipApiVersionCheck',
      '--blobHost', '127.0.0.1',
      '--blobPort', String(options.port ?? 0),
      '--location', location,
      '--silent',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const pidFile = join(location, PID_FILE);
  if (child.pid !== undefined) await writeFile(pidFile, String(child.pid));

  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const close = async (): Promise<void> => {
    process.off('exit', killOnExit);
    await rm(pidFile, { force: true });
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const forced = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(forced);
  };

  let output = '';
  try {
    const port = await new Promise<number>((resolvePort, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Azurite did not start within ${READY_TIMEOUT_MS} ms; its output: ${output.slice(-500)}`)),
        READY_TIMEOUT_MS,
      );
      const onOutput = (chunk: Buffer): void => {
        output += chunk.toString('utf8');
        const listening = /successfully listens on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
        if (listening) {
          clearTimeout(timer);
          resolvePort(Number(listening[1]));
        }
      };
      child.stdout.on('data', onOutput);
      child.stderr.on('data', onOutput);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`Azurite exited before it was ready (code ${code}, signal ${signal}): ${output.slice(-500)}`));
      });
    });
    // Keep draining its output so a chatty Azurite never blocks on a full pipe.
    child.stdout.resume();
    child.stderr.resume();
    const blobEndpoint = `http://127.0.0.1:${port}/${ACCOUNT}`;
    await waitUntilAnswering(blobEndpoint);
    return {
      port,
      blobEndpoint,
      connectionString:
        `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};BlobEndpoint=${blobEndpoint};`,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Where the running Azurite's process id is kept, under its data location. */
const PID_FILE = 'azurite.pid';

/**
 * A parent killed with SIGKILL (kill -9 of `kiln up`) cannot stop its Azurite, which keeps the port and the data
 * location. The next start on the same location finds it by the pid file and stops it, if the process is still
 * that Azurite (its command line names this location).
 */
async function stopOrphan(location: string): Promise<void> {
  let pid: number;
  try {
    pid = Number((await readFile(join(location, PID_FILE), 'utf8')).trim());
  } catch {
    return;
  }
  let commandLine = '';
  try {
    commandLine = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
  } catch {
    return;
  }
  if (!commandLine.includes('azurite') || !commandLine.includes(location)) return;
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`an earlier Azurite (pid ${pid}) on ${location} did not stop`);
}

/** Azurite logs "listening" slightly before it serves; any HTTP answer (even 403 without a signature) means ready. */
async function waitUntilAnswering(blobEndpoint: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    try {
      await fetch(`${blobEndpoint}?comp=list`);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`Azurite at ${blobEndpoint} did not answer`, { cause: error });
      await new Promise((done) => setTimeout(done, 50));
    }
  }
}
