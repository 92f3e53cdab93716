/** The local default: Azurite, the Azure emulator and the Functions host wired together, as `kiln up` runs them. */

import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite } from './azurite.ts';
import { startAzureEmulator, type AzureEmulator } from './azure/index.ts';
import { startLocalHost } from './host/index.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Fixed ports (docs/internals.md) so a restarted `kiln up` keeps its endpoints. */
export const DEFAULT_PORTS = { functions: 7071, arm: 8443, keyVault: 8444, blob: 10000 } as const;

/** Containers the ways in and the run store use. */
export const TEMPLATES_CONTAINER = 'templates';
export const RUNS_CONTAINER = 'runs';

export interface LocalDefaultOptions {
  /** KILN_HOME: every piece keeps its state below it. */
  home: string;
  /** 0 = any free port (tests, `kiln bake`). Omitted: the port this home used before, else the fixed default. */
  functionsPort?: number;
  armPort?: number;
  keyVaultPort?: number;
  blobPort?: number;
  /** Emulator latency profile (`zero`, `fast`, `realistic`) and its time scale. */
  profile?: string;
  scale?: number;
  /** `off`: the emulator records scripts instead of running them in a guest sandbox (fast, offline tests). */
  isolation?: 'auto' | 'off';
  /** The emulated subscription's regional vCPU quota when raised (benchmarks); default a new subscription's. */
  coreLimits?: { total: number; family: number };
  /** The Functions app the host loads; default the repo's functions/index.ts (a built package's dist/functions/index.js works too). */
  appEntry?: string;
  /** What the subscription already holds; default local/environment.json. */
  seedFile?: string;
  /** false: the Functions host runs as a child process (local/host/main.ts) that tests can kill. Default true. */
  hostInProcess?: boolean;
  /** Where the host's and the emulator's log lines go; default stderr. */
  log?: (line: string) => void;
  /** Extra host settings (override the wiring below), e.g. a shorter poll interval. */
  settings?: Record<string, string>;
}

/** The `kiln up` ready line: exactly these keys (docs/design.md §6); tools outside the repo rely on them. */
export interface ReadyLine {
  ready: true;
  functionsUrl: string;
  apiKey: string;
  armEndpoint: string;
  subscriptionId: string;
  keyVaultUrl: string;
  caCertPath: string;
  blobConnectionString: string;
  kilnHome: string;
}

export const READY_LINE_KEYS = [
  'ready', 'functionsUrl', 'apiKey', 'armEndpoint', 'subscriptionId', 'keyVaultUrl', 'caCertPath',
  'blobConnectionString', 'kilnHome',
] as const satisfies readonly (keyof ReadyLine)[];

type LocalHost = Awaited<ReturnType<typeof startLocalHost>>;

export interface LocalDefault extends ReadyLine {
  /** The host's admin key (the durable webhooks and admin endpoints). */
  adminKey: string;
  /** The settings the host runs with (what Kiln reads through loadConfig). */
  settings: Record<string, string>;
  emulator: AzureEmulator;
  /** The in-process host (its skippable clock and durable engine); undefined when the host is a child process. */
  host: LocalHost | undefined;
  /** The host child process when hostInProcess is false. */
  hostProcess: ChildProcess | undefined;
  /** Stops the host only (kill -9 for a child host), leaving Azurite and the emulator up; `restartHost` brings it back. */
  stopHost(options?: { kill?: boolean }): Promise<void>;
  restartHost(): Promise<void>;
  /** Picks exactly the ready-line keys. */
  readyLine(): ReadyLine;
  close(): Promise<void>;
}

/** Ports and keys a home used before, so endpoints and keys survive a restart (also after kill -9). */
interface PersistedLocal {
  ports: { functions: number; arm: number; keyVault: number; blob: number };
  keys: { function: string; admin: string };
}

function statePath(home: string): string {
  return join(home, 'local-default.json');
}

/** The API endpoint and key of the local default last started on `home` (what `kiln status` etc. talk to). */
export async function localEndpoint(home: string): Promise<{ functionsUrl: string; apiKey: string } | undefined> {
  const persisted = await readPersisted(resolve(home));
  if (!persisted) return undefined;
  return { functionsUrl: `http://127.0.0.1:${persisted.ports.functions}`, apiKey: persisted.keys.function };
}

async function readPersisted(home: string): Promise<PersistedLocal | undefined> {
  try {
    return JSON.parse(await readFile(statePath(home), 'utf8')) as PersistedLocal;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${statePath(home)}: expected the local default's saved ports and keys, found unreadable JSON`, {
      cause: error,
    });
  }
}

/** A given port wins (0 = any free one); otherwise what this home used before; otherwise the fixed default. */
function pickPort(option: number | undefined, persisted: number | undefined, fallback: number): number {
  return option ?? persisted ?? fallback;
}

function newKey(): string {
  return randomBytes(24).toString('base64url');
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** Starts the Functions host as a child process and resolves with its URL once it prints its ready line. */
async function spawnHost(options: {
  home: string;
  port: number;
  settings: Record<string, string>;
  keys: PersistedLocal['keys'];
  appEntry: string;
}): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [
      '--disable-warning=ExperimentalWarning',
      join(repoRoot, 'local/host/main.ts'),
      '--app', options.appEntry,
      '--home', options.home,
      '--port', String(options.port),
      // A key may start with '-' (base64url): joined with '=' so it is never read as an option.
      `--function-key=${options.keys.function}`,
      `--admin-key=${options.keys.admin}`,
    ],
    { cwd: repoRoot, env: { ...process.env, ...options.settings }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise<string>((resolveUrl, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      for (const line of buffered.split('\n').slice(0, -1)) {
        try {
          const parsed = JSON.parse(line) as { ready?: boolean; url?: string };
          if (parsed.ready && parsed.url) {
            child.stdout?.off('data', onData);
            child.stdout?.resume();
            resolveUrl(parsed.url);
            return;
          }
        } catch {
          // Not the ready line: the host's own log output.
        }
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code, signal) =>
      reject(new Error(`local Functions host exited before it was ready (code ${code}, signal ${signal})`)),
    );
  });
  return { child, url };
}

/** Creates the blob containers Kiln reads and writes (idempotent). */
async function createContainers(connectionString: string): Promise<void> {
  const service = BlobServiceClient.fromConnectionString(connectionString);
  for (const name of [TEMPLATES_CONTAINER, RUNS_CONTAINER]) {
    await service.getContainerClient(name).createIfNotExists();
  }
}

/** The settings that point Kiln's Azure clients at a local emulator, and its storage at Azurite. */
export function localAzureSettings(emulator: AzureEmulator, storageConnectionString: string): Record<string, string> {
  return {
    KILN_SUBSCRIPTION_ID: emulator.subscriptionId,
    KILN_ARM_ENDPOINT: emulator.armEndpoint,
    KILN_KEYVAULT_URL: emulator.keyVaultUrl,
    KILN_CA_CERT_PATH: emulator.caCertPath,
    KILN_STATIC_TOKEN: emulator.token,
    AzureWebJobsStorage: storageConnectionString,
    // Local webhook receivers listen on 127.0.0.1; link-local and metadata addresses stay refused.
    KILN_ALLOW_PRIVATE_TARGETS: 'true',
  };
}

/** Starts Azurite, the emulator (seeded) and the Functions host; resolves when the API answers. */
export async function startLocalDefault(options: LocalDefaultOptions): Promise<LocalDefault> {
  const home = resolve(options.home);
  await mkdir(home, { recursive: true });
  const persisted = await readPersisted(home);
  const keys = persisted?.keys ?? { function: newKey(), admin: newKey() };
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  };

  try {
    const azurite = await startAzurite({
      location: join(home, 'azurite'),
      port: pickPort(options.blobPort, persisted?.ports.blob, DEFAULT_PORTS.blob),
    });
    closers.push(() => azurite.close());
    await createContainers(azurite.connectionString);

    const emulator = await startAzureEmulator({
      home: join(home, 'azure'),
      port: pickPort(options.armPort, persisted?.ports.arm, DEFAULT_PORTS.arm),
      keyVaultPort: pickPort(options.keyVaultPort, persisted?.ports.keyVault, DEFAULT_PORTS.keyVault),
      profile: options.profile,
      scale: options.scale,
      seedFile: options.seedFile ?? join(repoRoot, 'local/environment.json'),
      filesDir: join(repoRoot, 'examples/files'),
      // Disk access publishes VHDs into Azurite, so that a VHD distribution's copy runs there.
      diskAccessStorage: azurite.connectionString,
      // Guests see the host's system directories only; these may lie inside one (e.g. KILN_HOME under /var).
      privatePaths: [home, repoRoot],
      ...(options.isolation ? { isolation: options.isolation } : {}),
      ...(options.coreLimits ? { coreLimits: options.coreLimits } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
    closers.push(() => emulator.close());

    const settings: Record<string, string> = {
      ...localAzureSettings(emulator, azurite.connectionString),
      KILN_TASK_HUB: 'kiln',
      // Locally the emulator's waits are short; poll them often so a bake's overhead stays small.
      KILN_POLL_MIN_MS: '50',
      KILN_POLL_MAX_MS: '1000',
      // An activity's own looks at an operation it began: a look here takes 5–20 ms (docs/bake.md, Measured overhead).
      KILN_POLL_QUICK_MS: '10',
      // Blob drops start their bake within a quarter second.
      KILN_LOCAL_BLOB_POLL_MS: '250',
      // The durable client (axios) must reach the host directly even where a proxy is configured.
      NO_PROXY: '127.0.0.1,localhost',
      ...options.settings,
    };
    const hostHome = join(home, 'host');
    const wantedFunctionsPort = pickPort(options.functionsPort, persisted?.ports.functions, DEFAULT_PORTS.functions);
    const inProcess = options.hostInProcess ?? true;
    const appEntry = options.appEntry ?? join(repoRoot, 'functions/index.ts');

    let host: LocalHost | undefined;
    let hostProcess: ChildProcess | undefined;
    let functionsUrl = '';
    const startHost = async (port: number): Promise<void> => {
      if (inProcess) {
        host = await startLocalHost({
          appEntry,
          home: hostHome,
          port,
          settings,
          hostJsonPath: join(repoRoot, 'host.json'),
          keys,
          ...(options.log ? { log: options.log } : {}),
        });
        functionsUrl = host.url;
      } else {
        const started = await spawnHost({ home: hostHome, port, settings, keys, appEntry });
        hostProcess = started.child;
        functionsUrl = started.url;
      }
    };
    const stopHost = async ({ kill = false }: { kill?: boolean } = {}): Promise<void> => {
      if (host) {
        await host.close();
        host = undefined;
      }
      if (hostProcess) {
        const child = hostProcess;
        hostProcess = undefined;
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((done) => child.once('exit', done));
          child.kill(kill ? 'SIGKILL' : 'SIGTERM');
          await exited;
        }
      }
    };
    await startHost(wantedFunctionsPort);
    closers.push(() => stopHost());

    const saved: PersistedLocal = {
      ports: {
        functions: portOf(functionsUrl),
        arm: portOf(emulator.armEndpoint),
        keyVault: portOf(emulator.keyVaultUrl),
        blob: azurite.port,
      },
      keys,
    };
    await writeFile(statePath(home), JSON.stringify(saved, null, 2) + '\n', { mode: 0o600 });

    const local: LocalDefault = {
      ready: true,
      get functionsUrl() {
        return functionsUrl;
      },
      apiKey: keys.function,
      adminKey: keys.admin,
      armEndpoint: emulator.armEndpoint,
      subscriptionId: emulator.subscriptionId,
      keyVaultUrl: emulator.keyVaultUrl,
      caCertPath: emulator.caCertPath,
      blobConnectionString: azurite.connectionString,
      kilnHome: home,
      settings,
      emulator,
      get host() {
        return host;
      },
      get hostProcess() {
        return hostProcess;
      },
      stopHost,
      // Same port as before, so clients holding functionsUrl carry on.
      restartHost: () => startHost(saved.ports.functions),
      readyLine() {
        return Object.fromEntries(READY_LINE_KEYS.map((key) => [key, local[key]])) as unknown as ReadyLine;
      },
      close: closeAll,
    };
    return local;
  } catch (error) {
    await closeAll();
    throw error;
  }
}
