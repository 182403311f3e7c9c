import {
  loadAlertConfig,
  loadApplyTimeConfig,
  loadConfig,
  loadLintConfig,
  loadReportConfig,
  loadRestoreConfig,
  loadSchemaConfig,
} from '../../lambdas/shared/config';
import {
  envBoolean,
  envBytes,
  envEnum,
  envInteger,
  envParsed,
  envSecondsMs,
  envString,
} from '../../lambdas/shared/env-parsers';
import { ConfigurationError } from '../../lambdas/shared/errors';

/** The ConfigurationError `read` throws (fails the test when it throws nothing or something else). */
function configurationError(read: () => unknown): ConfigurationError {
  try {
    read();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigurationError);
    return err as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError, nothing was thrown');
}

describe('environment parsers', () => {
  it('treat an unset and an empty variable alike, as not configured', () => {
    for (const env of [{}, { X: '' }]) {
      expect(envString(env, 'X')).toBeUndefined();
      expect(envInteger(env, 'X')).toBeUndefined();
      expect(envBoolean(env, 'X')).toBeUndefined();
      expect(envEnum(env, 'X', ['a'])).toBeUndefined();
      expect(envParsed(env, 'X', JSON.parse)).toBeUndefined();
    }
  });

  it('read whole numbers, bytes and seconds (in ms)', () => {
    expect(envInteger({ X: '0' }, 'X')).toBe(0);
    expect(envInteger({ X: '42' }, 'X')).toBe(42);
    expect(envBytes({ X: '104857600' }, 'X')).toBe(104857600);
    expect(envSecondsMs({ X: '90' }, 'X')).toBe(90_000);
  });

  it.each(['-1', '1.5', '1e8', '100MB', ' 12', 'ten', '99999999999999999999'])(
    'refuse %j as a whole number, naming the variable and the value',
    (raw) => {
      const err = configurationError(() => envInteger({ PGSHIFT_X: raw }, 'PGSHIFT_X', { unit: 'rows' }));
      expect(err.message).toBe(`PGSHIFT_X must be a whole number of rows, not "${raw}"`);
      expect(err.details).toEqual({ variable: 'PGSHIFT_X', value: raw });
    },
  );

  it('refuse a value below the minimum, saying it must be positive', () => {
    const err = configurationError(() => envSecondsMs({ T: '0' }, 'T', { min: 1 }));
    expect(err.message).toBe('T must be a positive number of seconds, not "0"');
    expect(configurationError(() => envBytes({ B: 'x' }, 'B')).message).toBe(
      'B must be a whole number of bytes, not "x"',
    );
  });

  it('read booleans as true/1 and false/0 and refuse other spellings', () => {
    expect(envBoolean({ F: 'true' }, 'F')).toBe(true);
    expect(envBoolean({ F: '1' }, 'F')).toBe(true);
    expect(envBoolean({ F: 'false' }, 'F')).toBe(false);
    expect(envBoolean({ F: '0' }, 'F')).toBe(false);
    expect(configurationError(() => envBoolean({ F: 'yes' }, 'F')).message).toBe(
      'F must be true or false, not "yes"',
    );
  });

  it('read an enum spelled exactly and list the allowed values when it is not', () => {
    expect(envEnum({ M: 'b' }, 'M', ['a', 'b'])).toBe('b');
    expect(configurationError(() => envEnum({ M: 'B' }, 'M', ['a', 'b'])).message).toBe(
      'M must be one of "a", "b", not "B"',
    );
  });

  it("prefix a domain parser's own message with the variable's name", () => {
    expect(envParsed({ J: '{"a":1}' }, 'J', JSON.parse)).toEqual({ a: 1 });
    const err = configurationError(() =>
      envParsed({ J: 'nope' }, 'J', () => {
        throw new Error('J-parser says no');
      }),
    );
    expect(err.message).toBe('J: J-parser says no; got "nope"');
    expect(err.details).toEqual({ variable: 'J', value: 'nope' });
  });
});

describe('per-step configuration', () => {
  const base = { PGSHIFT_BUCKET: 'b', DATABASE_URL: 'postgres://u:p@h/db' };

  it('keeps the defaults when nothing is set', () => {
    expect(loadLintConfig({})).toEqual({ severities: {}, thresholds: {} });
    expect(loadSchemaConfig({})).toEqual({ includeOwnership: false, largeTableBytes: undefined });
    expect(loadRestoreConfig({})).toEqual({ noOwner: true, noPrivileges: false, retentionDays: undefined });
    expect(loadReportConfig({})).toEqual({});
    expect(loadApplyTimeConfig({})).toEqual({});
  });

  it('reads every variable of each step', () => {
    expect(
      loadLintConfig({
        PGSHIFT_LINT_SEVERITIES: '{"prefer-text-field":"off"}',
        PGSHIFT_LINT_LARGE_TABLE_BYTES: '1024',
        PGSHIFT_LINT_LARGE_TABLE_ROWS: '10',
      }),
    ).toEqual({
      severities: { 'prefer-text-field': 'off' },
      thresholds: { largeTableBytes: 1024, largeTableRows: 10 },
    });
    expect(loadSchemaConfig({ PGSHIFT_SCHEMA_OWNERSHIP: 'true', PGSHIFT_LARGE_TABLE_BYTES: '2048' })).toEqual(
      {
        includeOwnership: true,
        largeTableBytes: 2048,
      },
    );
    expect(
      loadRestoreConfig({
        PGSHIFT_RESTORE_NO_OWNER: 'false',
        PGSHIFT_RESTORE_NO_PRIVILEGES: '1',
        PGSHIFT_RESTORE_RETENTION_DAYS: '7',
      }),
    ).toEqual({ noOwner: false, noPrivileges: true, retentionDays: 7 });
    expect(
      loadReportConfig({
        PGSHIFT_REPORT_LONG_QUERY_SECONDS: '30',
        PGSHIFT_REPORT_EXACT_COUNT_MAX_BYTES: '0',
        PGSHIFT_REPORT_URL_SECONDS: '3600',
      }),
    ).toEqual({ longQuerySeconds: 30, exactCountMaxBytes: 0, urlSeconds: 3600 });
    expect(
      loadApplyTimeConfig({
        PGSHIFT_APPLY_TIME_BUDGET_SECONDS: '840',
        PGSHIFT_APPLY_TIME_MARGIN_SECONDS: '0',
        PGSHIFT_FARGATE_TIME_BUDGET_SECONDS: '7200',
      }),
    ).toEqual({ budgetMs: 840_000, marginMs: 0, fargateBudgetMs: 7_200_000 });
  });

  it.each([
    [
      'lint',
      'PGSHIFT_LINT_LARGE_TABLE_BYTES',
      '100MiB',
      () => loadLintConfig({ PGSHIFT_LINT_LARGE_TABLE_BYTES: '100MiB' }),
    ],
    [
      'lint',
      'PGSHIFT_LINT_LARGE_TABLE_ROWS',
      '1,000',
      () => loadLintConfig({ PGSHIFT_LINT_LARGE_TABLE_ROWS: '1,000' }),
    ],
    ['lint', 'PGSHIFT_LINT_SEVERITIES', '{bad', () => loadLintConfig({ PGSHIFT_LINT_SEVERITIES: '{bad' })],
    [
      'schema',
      'PGSHIFT_SCHEMA_OWNERSHIP',
      'ture',
      () => loadSchemaConfig({ PGSHIFT_SCHEMA_OWNERSHIP: 'ture' }),
    ],
    [
      'schema',
      'PGSHIFT_LARGE_TABLE_BYTES',
      '1e9',
      () => loadSchemaConfig({ PGSHIFT_LARGE_TABLE_BYTES: '1e9' }),
    ],
    [
      'restore',
      'PGSHIFT_RESTORE_NO_OWNER',
      'no',
      () => loadRestoreConfig({ PGSHIFT_RESTORE_NO_OWNER: 'no' }),
    ],
    [
      'restore',
      'PGSHIFT_RESTORE_RETENTION_DAYS',
      '7d',
      () => loadRestoreConfig({ PGSHIFT_RESTORE_RETENTION_DAYS: '7d' }),
    ],
    [
      'pre-flight',
      'PGSHIFT_APPLY_TIME_MARGIN_SECONDS',
      '0',
      () => loadApplyTimeConfig({ PGSHIFT_APPLY_TIME_MARGIN_SECONDS: '0' }, 1),
    ],
    [
      'migrate',
      'PGSHIFT_APPLY_TIME_MARGIN_SECONDS',
      '60s',
      () => loadApplyTimeConfig({ PGSHIFT_APPLY_TIME_MARGIN_SECONDS: '60s' }),
    ],
    [
      'database',
      'PGSHIFT_DB_SSLMODE',
      'verfy-full',
      () =>
        loadConfig({ PGSHIFT_BUCKET: 'b', PGSHIFT_DB_SECRET_ARN: 'arn', PGSHIFT_DB_SSLMODE: 'verfy-full' }),
    ],
  ])(
    '%s: a bad %s (%j) is a ConfigurationError naming the variable and the value',
    (_step, name, raw, load) => {
      const err = configurationError(load);
      expect(err.message).toContain(name);
      expect(err.message).toContain(`"${raw}"`);
    },
  );

  it('loadConfig lists a bad sslmode with the other problems in one error', () => {
    const err = configurationError(() =>
      loadConfig({ PGSHIFT_DB_SECRET_ARN: 'arn', PGSHIFT_DB_SSLMODE: 'on' }),
    );
    expect(err.message).toBe(
      'Configuration incomplete: PGSHIFT_BUCKET is not set; PGSHIFT_DB_SSLMODE must be one of "disable", "require", ' +
        '"verify-ca", "verify-full", not "on"',
    );
    expect(loadConfig({ ...base, PGSHIFT_DB_SSLMODE: 'require' }).database).toEqual({
      kind: 'url',
      url: base.DATABASE_URL,
    });
  });

  it('report: an unusable value is reported through `ignored`, naming it, and the default kept', () => {
    const ignored: ConfigurationError[] = [];
    const config = loadReportConfig(
      { PGSHIFT_REPORT_LONG_QUERY_SECONDS: '1m', PGSHIFT_REPORT_URL_SECONDS: '600' },
      (err) => ignored.push(err),
    );
    expect(config).toEqual({ longQuerySeconds: undefined, exactCountMaxBytes: undefined, urlSeconds: 600 });
    expect(ignored.map((e) => e.message)).toEqual([
      'PGSHIFT_REPORT_LONG_QUERY_SECONDS must be a whole number of seconds, not "1m"',
    ]);
  });

  it('alerts: every setting is optional, and an unusable watchdog delay is reported and the 60 minutes kept', () => {
    expect(loadAlertConfig({})).toEqual({ warningMinutes: 60 });
    expect(
      loadAlertConfig({
        PGSHIFT_TOPIC_ARN: 'arn:topic',
        PGSHIFT_BUCKET: 'b',
        PGSHIFT_SCHEDULE_GROUP: 'g',
        PGSHIFT_DURATION_WARNING_MINUTES: '90',
      }),
    ).toMatchObject({ topicArn: 'arn:topic', bucket: 'b', scheduleGroup: 'g', warningMinutes: 90 });
    const ignored: string[] = [];
    const config = loadAlertConfig({ PGSHIFT_DURATION_WARNING_MINUTES: '1h' }, (err) =>
      ignored.push(err.message),
    );
    expect(config.warningMinutes).toBe(60);
    expect(ignored).toEqual(['PGSHIFT_DURATION_WARNING_MINUTES must be a whole number of minutes, not "1h"']);
  });
});
