/** Reads the 512-byte footer that ends a VHD file (the fields the VHD tests check). */
export interface VhdFooter {
  cookie: string;
  /** 2 = fixed, 3 = dynamic, 4 = differencing. */
  diskType: number;
  /** The virtual disk's size in bytes. */
  currentSize: number;
}

export function readVhdFooter(vhd: Buffer): VhdFooter {
  const footer = vhd.subarray(vhd.length - 512);
  return { cookie: footer.subarray(0, 8).toString('ascii'), diskType: footer.readUInt32BE(60), currentSize: Number(footer.readBigUInt64BE(48)) };
}
