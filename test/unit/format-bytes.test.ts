import { formatBytes } from '../../lambdas/shared/format';
import { PREFLIGHT_BYTES } from '../../lambdas/preflight/estimate';

describe('formatBytes', () => {
  it('prints binary units with one decimal above 1 KiB', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(1.5 * 1024 ** 3)).toBe('1.5 GiB');
    expect(formatBytes(3 * 1024 ** 5)).toBe('3072.0 TiB');
  });

  it('prints a fraction of a byte as given unless asked for whole bytes (the CLI and pre-flight ask)', () => {
    expect(formatBytes(512.5)).toBe('512.5 B');
    expect(formatBytes(512.5, { wholeBytes: true })).toBe('513 B');
  });

  it('scales negative amounts only when asked (pre-flight asks)', () => {
    expect(formatBytes(-2048)).toBe('-2048 B');
    expect(formatBytes(-2048, PREFLIGHT_BYTES)).toBe('-2.0 KiB');
  });
});
