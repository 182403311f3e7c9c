import {
  byteProgress,
  reportProgress,
  setProgressListener,
  type ProgressEvent,
} from '../../lambdas/shared/progress';

describe('progress reporting', () => {
  afterEach(() => setProgressListener(undefined));

  test('byte progress reaches the listener at most once per threshold', () => {
    const seen: ProgressEvent[] = [];
    setProgressListener((e) => seen.push(e));
    const onBytes = byteProgress('backup', 'dumped', 100);
    for (const b of [10, 99, 100, 150, 199, 260, 261]) onBytes(b);
    expect(seen.map((e) => e.bytes)).toEqual([100, 260]);
    expect(seen[0]).toMatchObject({ step: 'backup', message: 'dumped 0 MiB' });
  });

  test('without a listener (Lambda) reporting does nothing; a throwing listener never breaks the work', () => {
    expect(() => reportProgress({ step: 'migrate', message: 'x' })).not.toThrow();
    setProgressListener(() => {
      throw new Error('terminal gone');
    });
    expect(() => reportProgress({ step: 'migrate', message: 'x' })).not.toThrow();
  });
});
