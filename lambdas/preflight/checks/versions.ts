import type { PreflightCheckResult } from '../../shared/step';
import type { CheckContext, PreflightCheck } from '../types';
import { errorMessage } from '../../shared/errors';
import { formatVersionNum } from '../../shared/pg-version';

type PgDumpFact = { text: string; major: number } | { unknown: string };

/** The backup's pg_dump version, or why it cannot be known here (no binary, no PGSHIFT_IMAGE_PG_MAJOR). */
async function readPgDump(ctx: CheckContext): Promise<PgDumpFact> {
  if (!ctx.deps.pgDumpVersion) {
    return { unknown: 'no pg_dump to ask and PGSHIFT_IMAGE_PG_MAJOR is not set' };
  }
  try {
    const v = await ctx.deps.pgDumpVersion();
    return { text: v.text, major: v.major };
  } catch (err) {
    return { unknown: errorMessage(err) };
  }
}

/**
 * versions: the backup's pg_dump must be at least the server's major (pg_dump refuses newer servers, so the
 * backup would fail after preflight said yes), and the server must support every directive the migrations use.
 * When the pg_dump version cannot be known, the check says `skipped` (never `pass`), unless a directive fails.
 */
export const versionsCheck: PreflightCheck = {
  id: 'versions',
  async run(ctx: CheckContext): Promise<PreflightCheckResult> {
    const problems: string[] = [];
    const pgDump = await readPgDump(ctx);
    if ('major' in pgDump && pgDump.major < ctx.server.major) {
      problems.push(
        `pg_dump ${pgDump.text} is older than the server (${ctx.server.text}): the backup would fail. ` +
          `Use a pg_dump of major ${ctx.server.major} or newer (rebuild the image with that PostgreSQL ` +
          `major, or set PGSHIFT_PG_BIN locally)`,
      );
    }
    const unsupported = ctx.analyses.flatMap((a) =>
      (a.requiresServerVersion ?? [])
        .filter((r) => r.num > ctx.server.num)
        .map((r) => ({ migration: `${a.version}_${a.name}`, needs: r.num, reason: r.reason })),
    );
    for (const u of unsupported) {
      problems.push(
        `${u.migration}: ${u.reason} needs server ${formatVersionNum(u.needs)}+; rewrite it or upgrade first`,
      );
    }
    const value = { server: ctx.server.text, serverNum: ctx.server.num, pgDump, unsupported };
    if (problems.length > 0) {
      return { id: this.id, status: 'fail', value, message: `${problems.join('; ')}.` };
    }
    if ('unknown' in pgDump) {
      return {
        id: this.id,
        status: 'skipped',
        value,
        message:
          `pg_dump's version is unknown (${pgDump.unknown}), so whether the backup can dump server ` +
          `${ctx.server.text} was not checked; set PGSHIFT_IMAGE_PG_MAJOR to the image's PostgreSQL major. ` +
          `Every directive the migrations use is supported by the server.`,
      };
    }
    return {
      id: this.id,
      status: 'pass',
      value,
      message: `Server ${ctx.server.text}; pg_dump ${pgDump.text}; every directive is supported.`,
    };
  },
};
