import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';

/** The narrow logger every core function takes; Powertools' Logger, console-backed test loggers and the CLI fit. */
export interface Log {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/** Structured JSON logs in Lambda (Powertools), with the step as the service name. */
export function createLogger(service: string): Log {
  const logger = new PowertoolsLogger({ serviceName: `pgshift-${service}` });
  return {
    debug: (m, e) => logger.debug(m, e ?? {}),
    info: (m, e) => logger.info(m, e ?? {}),
    warn: (m, e) => logger.warn(m, e ?? {}),
    error: (m, e) => logger.error(m, e ?? {}),
  };
}

export interface CapturedLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  extra?: Record<string, unknown>;
}

/** A logger that keeps every line, so tests can assert what was (and was not) logged, e.g. no password. */
export function captureLogger(): Log & { lines: CapturedLine[]; text(): string } {
  const lines: CapturedLine[] = [];
  const at =
    (level: CapturedLine['level']) =>
    (message: string, extra?: Record<string, unknown>): void => {
      lines.push({ level, message, extra });
    };
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    text: () =>
      lines.map((l) => `${l.level} ${l.message} ${l.extra ? JSON.stringify(l.extra) : ''}`).join('\n'),
  };
}

/** A logger that drops everything (for callers that have nothing to say to a user). */
export const silentLogger: Log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
