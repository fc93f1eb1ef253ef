/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), slicing-by-8 in
 * plain TypeScript: no native dependency. The check value of "123456789" is
 * 0xE3069283. Used for every record and segment header of the outbox log.
 */

const POLY = 0x82f63b78;

/** TABLE[k * 256 + b]: slicing-by-8 tables, built once at load (8 KiB). */
const TABLE = new Uint32Array(8 * 256);
for (let b = 0; b < 256; b++) {
  let c = b;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
  TABLE[b] = c >>> 0;
}
for (let b = 0; b < 256; b++) {
  let c = TABLE[b] as number;
  for (let k = 1; k < 8; k++) {
    c = (TABLE[c & 0xff] as number) ^ (c >>> 8);
    TABLE[k * 256 + b] = c >>> 0;
  }
}

/** CRC-32C of `bytes[start, end)`, continuing from `crc` (0 for a fresh checksum). */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
  const t = TABLE;
  let c = ~crc;
  let i = start;
  const end8 = end - ((end - start) & 7);
  while (i < end8) {
    const lo =
      (c ^
        (bytes[i] as number) ^
        ((bytes[i + 1] as number) << 8) ^
        ((bytes[i + 2] as number) << 16) ^
        ((bytes[i + 3] as number) << 24)) >>>
      0;
    c =
      (t[1792 + (lo & 0xff)] as number) ^
      (t[1536 + ((lo >>> 8) & 0xff)] as number) ^
      (t[1280 + ((lo >>> 16) & 0xff)] as number) ^
      (t[1024 + (lo >>> 24)] as number) ^
      (t[768 + (bytes[i + 4] as number)] as number) ^
      (t[512 + (bytes[i + 5] as number)] as number) ^
      (t[256 + (bytes[i + 6] as number)] as number) ^
      (t[bytes[i + 7] as number] as number);
    i += 8;
  }
  while (i < end) c = (t[(c ^ (bytes[i++] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}
