/**
 * The schema and report handlers, configured from the environment as on AWS but with DATABASE_URL (local
 * mode), chained as a migrate execution would: snapshot before → (migration) → snapshot after → diff → report,
 * then verify's drift check before and after a change made outside pgshift. Handlers load in an isolated module
 * registry, so errors are matched by name, as Step Functions does.
 */
import { parse } from 'node-html-parser';
import type { StepEvent, StepOutput } from '../../lambdas/shared/step';
import type { SchemaDiff } from '../../lambdas/schema';
import { getJson, getText } from '../../lambdas/shared/s3';
import {
  freshDatabase,
  loadStepHandlers,
  rigStepEnv,
  rigStore,
  seedRows,
  type TestDatabase,
} from '../rig/helpers';
import { present } from '../helpers/present';

type Handler = (event: StepEvent) => Promise<StepOutput>;

function loadHandlers(db: TestDatabase): { schema: Handler; report: Handler } {
  return loadStepHandlers<Handler, 'schema' | 'report'>(['schema', 'report'], rigStepEnv(db.url));
}

describe('schema and report handlers', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase('hs');
  });
  afterAll(async () => db.drop());

  test('snapshot before/after → diff → report; drift ok, then drift found after an outside change', async () => {
    // Prepare
    await seedRows(db.target, 300);
    const { schema, report } = loadHandlers(db);
    const store = rigStore();
    const execution = {
      id: 'arn:aws:states:us-east-1:000000000000:execution:pgshift:hs-run-1',
      name: 'hs-run-1',
    };
    const input = { action: 'migrate' as const };
    // Act: the migrate branch
    const before = await schema({ input, execution, params: { operation: 'snapshot', phase: 'before' } });
    await (
      await db.client()
    ).query(`ALTER TABLE items DROP COLUMN doc; CREATE TABLE "Neue Tabelle" (id int)`);
    const after = await schema({ input, execution, params: { operation: 'snapshot', phase: 'after' } });
    const diff = await schema({
      input,
      execution,
      results: { snapshotBefore: before, snapshotAfter: after },
      params: { operation: 'diff' },
    });
    // Assess
    expect(before).toMatchObject({ step: 'schema', ok: true, phase: 'before', recordedAsLatest: false });
    expect(before.written).toEqual({
      json: `schemas/${db.name}/hs-run-1/before.json`,
      sql: `schemas/${db.name}/hs-run-1/before.sql`,
    });
    expect(after).toMatchObject({ ok: true, recordedAsLatest: true });
    expect(after.written?.latest).toBe(`schemas/${db.name}/latest.json`);
    expect(diff).toMatchObject({
      step: 'schema',
      ok: true,
      destructive: true,
      counts: { total: 3, destructive: 1, locking: 0, safe: 2 },
      written: {
        json: `diffs/${db.name}/hs-run-1/diff.json`,
        markdown: `diffs/${db.name}/hs-run-1/diff.md`,
        patch: `diffs/${db.name}/hs-run-1/diff.patch`,
      },
    });
    const stored = await getJson<SchemaDiff>(store, present(diff.written?.json, 'the diff JSON key'));
    expect(stored.changes.map((c) => `${c.change} ${c.kind} ${c.name} ${c.risk}`)).toEqual([
      'added table public."Neue Tabelle" safe',
      'added column public."Neue Tabelle".id safe',
      'removed column public.items.doc destructive',
    ]);
    expect(await getText(store, present(diff.written?.patch, 'the patch key'))).toContain(
      '-    doc jsonb NOT NULL',
    );
    expect(await getText(store, present(diff.written?.markdown, 'the Markdown key'))).toContain(
      '## Schema `public`',
    );

    // Act: the report, folding in this run's results
    const rep = await report({
      input,
      execution,
      results: {
        preflight: {
          step: 'preflight',
          ok: true,
          checks: [{ id: 'locks', status: 'pass', message: 'no blockers' }],
        },
        snapshotBefore: before,
        migrate: {
          step: 'migrate',
          ok: true,
          appliedCount: 1,
          applied: [{ version: '1', name: 'drop doc' }],
        },
        snapshotAfter: after,
        diff,
      },
    });
    // Assess
    expect(rep).toMatchObject({ step: 'report', ok: true, database: db.name, tableCount: 2 });
    expect(Object.keys(rep.written!)).toEqual(['json', 'markdown', 'html']);
    expect(JSON.stringify(rep).length).toBeLessThan(20 * 1024);
    const html = parse(await getText(store, present(rep.written?.html, 'the HTML key')));
    expect(html.querySelectorAll('#schema-diff tbody tr')).toHaveLength(3);
    expect(html.querySelectorAll('#table-size-chart rect')).toHaveLength(2);
    expect(html.querySelector('#preflight-checklist')?.text).toContain('no blockers');
    const page = await fetch(rep.htmlUrl as string);
    expect(page.status).toBe(200);

    // Act: verify's drift check, then a change outside pgshift
    const verifyInput = { action: 'verify' as const };
    const clean = await schema({ input: verifyInput, execution, params: { operation: 'drift' } });
    await (await db.client()).query(`CREATE INDEX sneaky ON items (body)`);
    const drifted = await schema({ input: verifyInput, execution, params: { operation: 'drift' } });
    // Assess
    expect(clean).toMatchObject({ ok: true, checked: true, counts: { total: 0 } });
    expect(drifted).toMatchObject({
      step: 'schema',
      operation: 'drift',
      ok: false,
      checked: true,
      counts: { total: 1, safe: 1 },
      summary: ['added index public.sneaky (safe)'],
    });
  });

  test('drift on a database never migrated by pgshift: not checked, not a failure', async () => {
    const other = await freshDatabase('hs2');
    try {
      const { schema } = loadHandlers(other);
      const out = await schema({
        input: { action: 'verify' },
        execution: { id: 'local-1' },
        params: { operation: 'drift' },
      });
      expect(out).toMatchObject({ ok: true, checked: false });
    } finally {
      await other.drop();
    }
  });

  test('bad parameters are InputValidationErrors', async () => {
    const { schema } = loadHandlers(db);
    const execution = { id: 'local-2' };
    await expect(
      schema({ input: { action: 'migrate' }, execution, params: { operation: 'snapshot', phase: 'during' } }),
    ).rejects.toMatchObject({ name: 'InputValidationError' });
    await expect(
      schema({ input: { action: 'migrate' }, execution, params: { operation: 'diff' }, results: {} }),
    ).rejects.toMatchObject({
      name: 'InputValidationError',
      message: expect.stringContaining('results.snapshotBefore.written.json'),
    });
    await expect(
      schema({ input: { action: 'migrate' }, execution, params: { operation: 'explode' } }),
    ).rejects.toMatchObject({ name: 'InputValidationError' });
  });
});
