/**
 * The running guests of one emulator: each disk's guest is booted once on first use, recorded on disk so that a
 * restarted emulator adopts it again, watched for a power-off from inside, and stopped by killing its init.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { diskPaths, type Disk } from './disks.ts';
import { spawnInit, type GuestHost } from './sandbox-boot.ts';
import { CONTROL_FILES } from './sandbox-guest.ts';
import { BOOT_TIMEOUT_MS, exists, groupAlive, SandboxError, waitFor } from './sandbox-process.ts';
import type { GuestPowerOff } from './sandbox-types.ts';

const POWEROFF_POLL_MS = 100;

/** What a restarted emulator needs to find a running guest again: kept in `{home}/guests/`. */
export interface GuestRecord {
  disk: Disk;
  /** Host PID of the guest's init (PID 1 inside). */
  initPid: number;
  /** `/proc/{initPid}/ns/pid` at boot: tells the guest's init from a later process that reuses its PID. */
  namespace: string;
}

interface Guest extends GuestRecord {
  poller: NodeJS.Timeout;
}

export const isAlive = async (record: GuestRecord): Promise<boolean> => (await readlink(`/proc/${record.initPid}/ns/pid`).catch(() => undefined)) === record.namespace;

const powerOffReason = (text: string): GuestPowerOff['reason'] => (text.trim() === 'deprovision' ? 'deprovision' : 'shutdown');

/**
 * Kills a guest during its boot: `unshare` leads a process group of its own (spawned detached) that its init and the
 * init's helpers share until boot ends, and killing the namespace's init takes everything else in it along.
 */
async function killBooting(unsharePid: number, disk: Disk): Promise<void> {
  try {
    process.kill(-unsharePid, 'SIGKILL');
  } catch {
    // Exited in the meantime.
  }
  await waitFor(async () => !(await groupAlive(unsharePid)), BOOT_TIMEOUT_MS, `the booting guest of ${disk.dir} to stop`);
}

export class GuestRegistry {
  readonly #host: GuestHost;
  readonly #registry: string;
  readonly #onPowerOff: ((event: GuestPowerOff) => void) | undefined;
  readonly #guests = new Map<string, Guest>();
  readonly #booting = new Map<string, Promise<Guest>>();
  /** Set by close(stopGuests): a guest still booting is then killed instead of finishing its boot. */
  #stopping = false;

  constructor(host: GuestHost, onPowerOff?: (event: GuestPowerOff) => void) {
    this.#host = host;
    this.#registry = join(host.home, 'guests');
    this.#onPowerOff = onPowerOff;
  }

  #recordPath(disk: Disk): string {
    return join(this.#registry, `${createHash('sha256').update(disk.dir).digest('hex').slice(0, 32)}.json`);
  }

  /** Whether the disk's guest runs (not one still booting). */
  isRunning(disk: Disk): boolean {
    return this.#guests.has(disk.dir);
  }

  /** The disk's guest, running or still booting (undefined when it has none or its boot failed). */
  find(disk: Disk): Promise<GuestRecord | undefined> {
    return this.#find(disk);
  }

  async #find(disk: Disk): Promise<Guest | undefined> {
    return this.#guests.get(disk.dir) ?? (await this.#booting.get(disk.dir)?.catch(() => undefined));
  }

  /** The disk's guest, booted on first use; concurrent callers share one boot. */
  async guestFor(disk: Disk): Promise<GuestRecord> {
    const running = this.#guests.get(disk.dir);
    if (running) return running;
    let pending = this.#booting.get(disk.dir);
    if (!pending) {
      pending = this.#boot(disk).finally(() => this.#booting.delete(disk.dir));
      this.#booting.set(disk.dir, pending);
    }
    return pending;
  }

  #watch(record: GuestRecord): Guest {
    const guest: Guest = { ...record, poller: setInterval(() => void this.#checkPowerOff(guest), POWEROFF_POLL_MS) };
    guest.poller.unref();
    this.#guests.set(record.disk.dir, guest);
    return guest;
  }

  async #boot(disk: Disk): Promise<Guest> {
    const { unsharePid, exited, bootLog } = await spawnInit(this.#host, disk, false);
    let gone = false;
    void exited.then(() => (gone = true));
    const bootedFile = join(diskPaths(disk).control, CONTROL_FILES.booted);
    await waitFor(async () => gone || this.#stopping || (await exists(bootedFile)), BOOT_TIMEOUT_MS, `the guest of ${disk.dir} to boot`);
    if (this.#stopping) {
      await killBooting(unsharePid, disk);
      throw new SandboxError(`guest of ${disk.dir}: the emulator closed while it booted`);
    }
    if (gone) throw new SandboxError(`guest of ${disk.dir} failed to boot: ${(await readFile(bootLog, 'utf8').catch(() => '')).trim()}`);
    const children = await readFile(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8');
    const initPid = Number(children.trim().split(/\s+/)[0]);
    if (!Number.isInteger(initPid) || initPid <= 0) throw new SandboxError(`guest of ${disk.dir}: cannot find its init process`);
    const record: GuestRecord = { disk, initPid, namespace: await readlink(`/proc/${initPid}/ns/pid`) };
    await mkdir(this.#registry, { recursive: true });
    await writeFile(this.#recordPath(disk), JSON.stringify(record));
    return this.#watch(record);
  }

  async #checkPowerOff(guest: GuestRecord): Promise<void> {
    const reasonText = await readFile(join(diskPaths(guest.disk).control, CONTROL_FILES.poweroff), 'utf8').catch(() => undefined);
    if (reasonText === undefined || this.#guests.get(guest.disk.dir) !== guest) return;
    await this.stop(guest.disk);
    this.#onPowerOff?.({ disk: guest.disk, reason: powerOffReason(reasonText) });
  }

  /** Finds the guests a previous emulator started: running ones are watched again, powered-off ones reported. */
  async adopt(): Promise<void> {
    for (const name of await readdir(this.#registry).catch(() => [] as string[])) {
      const path = join(this.#registry, name);
      const record = JSON.parse(await readFile(path, 'utf8')) as GuestRecord;
      if (await isAlive(record)) {
        this.#watch(record);
        continue;
      }
      await rm(path, { force: true });
      const reasonText = await readFile(join(diskPaths(record.disk).control, CONTROL_FILES.poweroff), 'utf8').catch(() => undefined);
      if (reasonText !== undefined) this.#onPowerOff?.({ disk: record.disk, reason: powerOffReason(reasonText) });
    }
  }

  async stop(disk: Disk): Promise<void> {
    const guest = await this.#find(disk);
    if (!guest) return;
    this.#guests.delete(disk.dir);
    clearInterval(guest.poller);
    // Killing PID 1 of the namespace kills every process in it.
    if (await isAlive(guest)) {
      try {
        process.kill(guest.initPid, 'SIGKILL');
      } catch {
        // Exited in the meantime.
      }
    }
    await waitFor(async () => !(await isAlive(guest)), BOOT_TIMEOUT_MS, `the guest of ${disk.dir} to stop`);
    await rm(this.#recordPath(disk), { force: true });
  }

  /**
   * Stops watching every guest (they run on); with `stopGuests`, stops them too. Guests still booting are killed with
   * `stopGuests`, else they finish booting first (recorded on disk, so a restarted emulator adopts them).
   */
  async close(stopGuests: boolean): Promise<void> {
    this.#stopping = stopGuests;
    await Promise.all([...this.#booting.values()].map((boot) => boot.catch(() => undefined)));
    for (const guest of this.#guests.values()) clearInterval(guest.poller);
    if (stopGuests) await Promise.all([...this.#guests.values()].map((guest) => this.stop(guest.disk)));
  }
}
