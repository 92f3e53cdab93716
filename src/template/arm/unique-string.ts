/**
 * ARM's uniqueString(): the arguments joined with '-', UTF-8, hashed to 64 bits by ARM's two-lane MurmurHash3
 * variant, then 13 characters of base32 (a–z, 2–7) taken from the top bit down. ARM does not publish it; the
 * public values it is checked against are in test/unit/template-arm.test.ts.
 */

const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

const rotl = (x: number, r: number): number => ((x << r) | (x >>> (32 - r))) >>> 0;
const mul = (a: number, b: number): number => Math.imul(a, b) >>> 0;

/** MurmurHash3's 32-bit finalizer. */
function fmix(h: number): number {
  let x = h >>> 0;
  x = mul(x ^ (x >>> 16), 0x85ebca6b);
  x = mul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Little-endian 32-bit word of up to 4 bytes from `at`. */
function word(bytes: Uint8Array, at: number, count: number): number {
  let value = 0;
  for (let i = 0; i < count; i++) value |= bytes[at + i]! << (8 * i);
  return value >>> 0;
}

const lane1 = (k: number): number => mul(rotl(mul(k, C1), 15), C2);
const lane2 = (k: number): number => mul(rotl(mul(k, C2), 17), C1);

/** The 64-bit hash as two 32-bit halves (high, low). */
export function armHash64(bytes: Uint8Array): { high: number; low: number } {
  let h1 = 0;
  let h2 = 0;
  let i = 0;
  for (; i + 8 <= bytes.length; i += 8) {
    h1 = (h1 ^ lane1(word(bytes, i, 4))) >>> 0;
    h1 = (mul((rotl(h1, 19) + h2) >>> 0, 5) + 0x561ccd1b) >>> 0;
    h2 = (h2 ^ lane2(word(bytes, i + 4, 4))) >>> 0;
    h2 = (mul((rotl(h2, 13) + h1) >>> 0, 5) + 0x0bcaa747) >>> 0;
  }
  const tail = bytes.length - i;
  if (tail > 0) h1 = (h1 ^ lane1(word(bytes, i, Math.min(tail, 4)))) >>> 0;
  if (tail > 4) h2 = (h2 ^ lane2(word(bytes, i + 4, tail - 4))) >>> 0;
  h1 = (h1 ^ bytes.length) >>> 0;
  h2 = (h2 ^ bytes.length) >>> 0;
  h1 = (h1 + h2) >>> 0;
  h2 = (h2 + h1) >>> 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h1 = (h1 + h2) >>> 0;
  h2 = (h2 + h1) >>> 0;
  return { high: h2, low: h1 };
}

/** uniqueString(values…): 13 characters, as ARM computes them. */
export function uniqueString(values: readonly string[]): string {
  const { high, low } = armHash64(new TextEncoder().encode(values.join('-')));
  let bits = (BigInt(high) << 32n) | BigInt(low);
  let out = '';
  // 13 × 5 bits from the top; the last character gets the final 4 bits and a zero.
  for (let n = 0; n < 13; n++) {
    out += ALPHABET[Number(bits >> 59n)];
    bits = (bits << 5n) & 0xffffffffffffffffn;
  }
  return out;
}
