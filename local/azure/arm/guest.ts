/** The handlers' view of guests (GuestPort), built on the disk layers and the sandbox: disks are named by directory. */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createDiskFrom, deleteDisk, deprovisionDisk, deleteSnapshot, openDisk, provisionDisk, readFileFromDisk, snapshotDisk, snapshotTree, writeFileToDisk } from '../disks.ts';
import { writeTreeAsVhd } from '../disk-vhd.ts';
import type { Sandbox } from '../sandbox-types.ts';
import type { GuestPort } from './context.ts';

/** The agent's own deprovision, as `generalize` applies it to a disk whose guest did not run it already. */
const DEPROVISION = 'waagent -deprovision+user -force';

export function createGuestPort(home: string, sandbox: Sandbox): GuestPort {
  const disksDir = join(home, 'disks');
  const snapshotsDir = join(home, 'snapshots');
  return {
    isolation: sandbox.isolation,
    async createDisk(source, provisioning) {
      const disk = await createDiskFrom(source.kind === 'snapshot' ? { dir: source.snapshot } : null, join(disksDir, randomUUID()));
      if (provisioning) await provisionDisk(disk, { adminUsername: provisioning.adminUsername, hostname: provisioning.computerName });
      return disk.dir;
    },
    async deleteDisk(dir) {
      // Already gone (a delete that was interrupted and redone): nothing to free.
      const disk = await openDisk(dir).catch(() => undefined);
      if (!disk) return;
      await sandbox.stopGuest(disk);
      await deleteDisk(disk);
    },
    async snapshot(dir) {
      return (await snapshotDisk(await openDisk(dir), join(snapshotsDir, randomUUID()))).dir;
    },
    async deleteSnapshot(dir) {
      await deleteSnapshot({ dir });
    },
    async deprovision(dir) {
      const disk = await openDisk(dir);
      if (!sandbox.isolation.isolated) return;
      await sandbox.runScript({ disk, script: DEPROVISION, timeoutSec: 60 });
      await sandbox.stopGuest(disk);
    },
    async deprovisionFromHost(dir) {
      await deprovisionDisk(await openDisk(dir));
    },
    async readFile(dir, path) {
      // A disk deleted by a rebuild that an emulator kill interrupted holds no file (the rebuild is redone later).
      const disk = await openDisk(dir).catch(() => undefined);
      return disk && readFileFromDisk(disk, path);
    },
    async writeFile(dir, path, content) {
      await writeFileToDisk(await openDisk(dir), path, content);
    },
    async runScript(dir, script, env, timeoutSec, onOutput) {
      return sandbox.runScript({ disk: await openDisk(dir), script, env, timeoutSec, ...(onOutput ? { onOutput } : {}) });
    },
    async startScript(dir, script, env, timeoutSec, runId) {
      return sandbox.startScript({ disk: await openDisk(dir), script, env, timeoutSec, ...(runId ? { runId } : {}) });
    },
    async scriptStarted(dir, runId) {
      return sandbox.scriptStarted(await openDisk(dir), runId);
    },
    async waitScript(dir, runId, onOutput) {
      return sandbox.waitScript(await openDisk(dir), runId, onOutput);
    },
    async releaseScript(dir, runId) {
      await sandbox.releaseScript(await openDisk(dir), runId);
    },
    async stopGuest(dir) {
      await sandbox.stopGuest(await openDisk(dir));
    },
    async exportVhd(dir, out) {
      // The merged layers of the disk, as capture makes them, archived; the snapshot is only a means.
      const snapshot = await snapshotDisk(await openDisk(dir), join(snapshotsDir, randomUUID()));
      try {
        return await writeTreeAsVhd(snapshotTree(snapshot), out);
      } finally {
        await deleteSnapshot(snapshot);
      }
    },
  };
}
