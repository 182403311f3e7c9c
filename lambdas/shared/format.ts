/** How `formatBytes` treats what its callers have always printed differently (each keeps its exact output). */
export interface FormatBytesOptions {
  /** Below 1 KiB, print whole bytes ("513 B") rather than the number as given ("512.5 B"). */
  wholeBytes?: boolean;
  /** Scale negative amounts too ("-2.0 KiB"); without it a negative amount prints in bytes ("-2048 B"). */
  scaleNegative?: boolean;
}

/** Bytes as a person reads them, in binary units (1.5 GiB). */
export function formatBytes(n: number, options: FormatBytesOptions = {}): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while ((options.scaleNegative ? Math.abs(v) : v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  if (i > 0) return `${v.toFixed(1)} ${units[i]}`;
  return `${options.wholeBytes ? v.toFixed(0) : v} ${units[i]}`;
}
