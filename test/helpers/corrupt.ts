/** Flips the bits of one byte near the end of a dump: same size, manifest untouched, checksum no longer matches. */
export function flipByteNearEnd(bytes: Buffer): void {
  const at = bytes.length - 10;
  bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
}
