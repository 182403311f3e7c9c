import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DockerfileError, imageFiles, readDockerfile } from '../../bin/cli/dockerfile';
import { parsePgshiftContext, SAMPLE_CONTEXT } from '../../lib/context';

describe('Dockerfile reader', () => {
  test('reads FROM, ARG, ENV (continued lines), plain COPYs and an exec-form CMD', () => {
    const df = readDockerfile(
      [
        '# comment',
        'FROM public.ecr.aws/lambda/nodejs:24',
        'ARG PG_MAJOR=17',
        'RUN dnf install -y postgresql${PG_MAJOR} \\',
        '  # a comment inside a continuation',
        ' && dnf clean all',
        'ENV PGSHIFT_PG_BIN=/usr/bin \\',
        '    NODE_OPTIONS="--enable-source-maps"',
        'ENV LEGACY some value',
        'COPY backup ${LAMBDA_TASK_ROOT}/backup',
        'COPY certs/a.pem certs/b.pem /opt/certs/',
        'CMD ["backup/handler.handler"]',
      ].join('\n'),
    );
    expect(df).toEqual({
      from: 'public.ecr.aws/lambda/nodejs:24',
      args: { PG_MAJOR: '17' },
      env: { PGSHIFT_PG_BIN: '/usr/bin', NODE_OPTIONS: '--enable-source-maps', LEGACY: 'some value' },
      copies: [
        { src: 'backup', dest: '${LAMBDA_TASK_ROOT}/backup' },
        { src: 'certs/a.pem', dest: '/opt/certs/' },
        { src: 'certs/b.pem', dest: '/opt/certs/' },
      ],
      cmd: ['backup/handler.handler'],
      copyFrom: false,
    });
  });

  test('global ARGs reach FROM; the final stage is what counts, and COPY --from is flagged', () => {
    const df = readDockerfile(
      [
        'ARG NODE_MAJOR=24',
        'FROM node:${NODE_MAJOR} AS build',
        'ARG NODE_MAJOR',
        'RUN echo --target=node${NODE_MAJOR}',
        'FROM public.ecr.aws/lambda/nodejs:${NODE_MAJOR}',
        'COPY --from=build /out/ /var/task/',
        'CMD backup/handler.handler',
      ].join('\n'),
    );
    expect(df.from).toBe('public.ecr.aws/lambda/nodejs:24');
    expect(df.copyFrom).toBe(true);
    expect(df.copies).toEqual([]);
    expect(df.cmd).toEqual(['/bin/sh', '-c', 'backup/handler.handler']);
  });

  test('an ARG declared only before FROM and used after it is refused (it expands to "")', () => {
    const text = [
      'ARG NODE_MAJOR=24',
      'FROM node:${NODE_MAJOR}',
      'RUN esbuild --target=node${NODE_MAJOR}',
    ].join('\n');
    expect(() => readDockerfile(text)).toThrow(DockerfileError);
    expect(() => readDockerfile(text)).toThrow(
      /line 3: RUN uses \$\{NODE_MAJOR\}.*only before the first FROM/,
    );
  });

  test('ADD and globbed COPY sources are refused', () => {
    expect(() => readDockerfile('FROM x\nADD https://example.invalid/a.pem /a.pem')).toThrow(
      /ADD is not allowed/,
    );
    expect(() => readDockerfile('FROM x\nCOPY *.js /var/task/')).toThrow(/is a pattern/);
  });

  test('imageFiles lays out the tree the COPYs make, and names a missing source', () => {
    const ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-df-'));
    fs.mkdirSync(path.join(ctx, 'backup'));
    fs.writeFileSync(path.join(ctx, 'backup', 'handler.js'), '');
    fs.writeFileSync(path.join(ctx, 'a.pem'), '');
    const df = readDockerfile(
      'FROM x\nCOPY backup ${LAMBDA_TASK_ROOT}/backup\nCOPY a.pem /opt/x/\nCOPY a.pem /b.pem',
    );
    const files = imageFiles(df, ctx, { LAMBDA_TASK_ROOT: '/var/task' });
    expect([...files.keys()].sort()).toEqual(['/b.pem', '/opt/x/a.pem', '/var/task/backup/handler.js']);
    expect(files.get('/var/task/backup/handler.js')).toBe(path.join(ctx, 'backup', 'handler.js'));
    expect(() => imageFiles(readDockerfile('FROM x\nCOPY gone /gone'), ctx, {})).toThrow(
      /COPY source "gone" does not exist/,
    );
    expect(() => imageFiles(df, ctx, {})).toThrow(/not known/);
  });

  test("the repository's Dockerfile reads cleanly: one stage, plain COPYs, no downloads", () => {
    const text = fs.readFileSync(path.join(__dirname, '..', '..', 'lambdas', 'image', 'Dockerfile'), 'utf8');
    const df = readDockerfile(text);
    expect(text.match(/^FROM /gm)).toHaveLength(1);
    expect(df.copyFrom).toBe(false);
    // Its default matches the context's (a hand-run `docker build` gets the same client as `cdk deploy`).
    expect(df.args.PG_MAJOR).toBe(String(parsePgshiftContext(SAMPLE_CONTEXT).pgMajor));
    expect(text).not.toMatch(/\b(curl|wget)\b/);
    for (const { src, dest } of df.copies) {
      expect(path.isAbsolute(src)).toBe(false);
      expect(dest).toMatch(/^(\/|\$\{LAMBDA_TASK_ROOT\}\/)/);
    }
  });
});
