import type { PreflightCheckResult } from '../../shared/step';
import type { CheckContext, PreflightCheck } from '../types';

/**
 * versions: the backup's pg_dump must be at least the server's major (pg_dump refuses newer servers, so the
 * backup would fail after preflight said yes), and the server must support every directive the migrations use.
 */
export const versionsCheck: PreflightCheck = {
  id: 'versions',
  async run(ctx: CheckContext): Promise<PreflightCheckResult> {
    const problems: string[] = [];
    let pgDump: { text: string; major: number } | { error: string };
    try {
      const v = await ctx.deps.pgDumpVersion();
      pgDump = { text: v.text, major: v.major };
      if (v.major < ctx.server.major) {
        problems.push(
          `pg_dump ${v.text} is older than the server (${ctx.server.text}): the backup would fail. ` +
            `Use a pg_dump of major ${ctx.server.major} or newer (PGSHIFT_PG_BIN, or rebuild the image)`,
        );
      }
    } catch (err) {
      pgDump = { error: (err as Error).message };
      problems.push(`cannot run pg_dump: ${(err as Error).message}`);
    }
    const unsupported = ctx.analyses.flatMap((a) =>
      (a.requiresServerVersion ?? [])
        .filter((r) => r.num > ctx.server.num)
        .map((r) => ({ migration: `${a.version}_${a.name}`, needs: r.num, reason: r.reason })),
    );
    for (const u of unsupported) {
      problems.push(`${u.migration}: ${u.reason} needs server ${formatVersionNum(u.needs)}+`);
    }
    const value = { server: ctx.server.text, serverNum: ctx.server.num, pgDump, unsupported };
    if (problems.length > 0) {
      return { id: this.id, status: 'fail', value, message: `${problems.join('; ')}.` };
    }
    return {
      id: this.id,
      status: 'pass',
      value,
      message: `Server ${ctx.server.text}; pg_dump ${'text' in pgDump ? pgDump.text : '?'}; every directive is supported.`,
    };
  },
};

/** 120000 → "12", 90600 → "9.6". */
function formatVersionNum(num: number): string {
  const major = Math.floor(num / 10000);
  return major >= 10 ? String(major) : `${major}.${Math.floor((num % 10000) / 100)}`;
}
