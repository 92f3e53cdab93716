/**
 * A disk's content as a fixed VHD, what disk access serves: the payload is a tar archive of the disk's own files
 * (its layers above the host root, merged), padded to whole MiB as Azure requires of a VHD, then the 512-byte footer.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, stat, truncate } from 'node:fs/promises';
import { promisify } from 'node:util';

const runFile = promisify(execFile);
const MIB = 1024 * 1024;
const FOOTER_BYTES = 512;
/** The VHD epoch: 2000-01-01T00:00:00Z. */
const VHD_EPOCH_MS = Date.UTC(2000, 0, 1);

/** CHS geometry for a disk of `size` bytes (the VHD specification's algorithm). */
function geometry(size: number): { cylinders: number; heads: number; sectorsPerTrack: number } {
  let totalSectors = Math.min(Math.floor(size / 512), 65535 * 16 * 255);
  let sectorsPerTrack: number;
  let heads: number;
  let cylinderTimesHeads: number;
  if (totalSectors >= 65535 * 16 * 63) {
    sectorsPerTrack = 255;
    heads = 16;
    cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
  } else {
    sectorsPerTrack = 17;
    cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    heads = Math.max(4, Math.floor((cylinderTimesHeads + 1023) / 1024));
    if (cylinderTimesHeads >= heads * 1024 || heads > 16) {
      sectorsPerTrack = 31;
      heads = 16;
      cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    }
    if (cylinderTimesHeads >= heads * 1024) {
      sectorsPerTrack = 63;
      heads = 16;
      cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    }
  }
  totalSectors = cylinderTimesHeads;
  return { cylinders: Math.floor(totalSectors / heads), heads, sectorsPerTrack };
}

/** The footer of a fixed VHD whose data part is `size` bytes. */
export function vhdFooter(size: number, now = Date.now()): Buffer {
  const footer = Buffer.alloc(FOOTER_BYTES);
  footer.write('conectix', 0, 'ascii');
  footer.writeUInt32BE(0x00000002, 8); // features: reserved bit set
  footer.writeUInt32BE(0x00010000, 12); // format version 1.0
  footer.writeBigUInt64BE(0xffffffffffffffffn, 16); // data offset: none for a fixed disk
  footer.writeUInt32BE(Math.floor((now - VHD_EPOCH_MS) / 1000), 24);
  footer.write('kiln', 28, 'ascii');
  footer.writeUInt32BE(0x00010000, 32);
  footer.write('Wi2k', 36, 'ascii');
  footer.writeBigUInt64BE(BigInt(size), 40);
  footer.writeBigUInt64BE(BigInt(size), 48);
  const chs = geometry(size);
  footer.writeUInt16BE(chs.cylinders, 56);
  footer.writeUInt8(chs.heads, 58);
  footer.writeUInt8(chs.sectorsPerTrack, 59);
  footer.writeUInt32BE(2, 60); // disk type: fixed
  randomBytes(16).copy(footer, 68);
  let sum = 0;
  for (const byte of footer) sum += byte;
  footer.writeUInt32BE(~sum >>> 0, 64);
  return footer;
}

/** Writes `tree` as a fixed VHD to `out`; returns the file's size (a whole number of MiB plus the footer). */
export async function writeTreeAsVhd(tree: string, out: string): Promise<number> {
  // Numeric owners keep the archive the same whoever reads it; the tree is the disk's, never the host root.
  await runFile('tar', ['--numeric-owner', '-C', tree, '-cf', out, '.'], { maxBuffer: 1024 * 1024 });
  const payload = (await stat(out)).size;
  const size = Math.max(MIB, Math.ceil(payload / MIB) * MIB);
  await truncate(out, size);
  const file = await open(out, 'a');
  try {
    await file.write(vhdFooter(size));
  } finally {
    await file.close();
  }
  return size + FOOTER_BYTES;
}
