import * as fs from 'node:fs';
import * as path from 'node:path';
import { isStringArray } from './json-shapes';

/**
 * A small reader for pgshift's own Dockerfile (lambdas/image/Dockerfile): enough to rebuild the image's file tree
 * from the build context without Docker (the infra test and the workflow harness), and to catch the mistakes a
 * build would only show on `cdk deploy`. It reads FROM, ARG, ENV, COPY, CMD (line continuations and comments
 * included); RUN lines are only checked for variable use. Not a general Dockerfile parser: ADD and globbed COPY
 * sources are refused, since pgshift's image must not use them.
 */

/** A plain `COPY <src> <dest>` of the final stage; `dest` as written (it may name `${LAMBDA_TASK_ROOT}`). */
export interface DockerfileCopy {
  src: string;
  dest: string;
}

export interface Dockerfile {
  /** The final stage's base image, global ARG defaults substituted. */
  from: string;
  /** The final stage's ARGs and their defaults (undefined: no default). */
  args: Record<string, string | undefined>;
  /** The final stage's ENV values (known variables substituted). */
  env: Record<string, string>;
  /** The final stage's plain COPYs, in order, one entry per source. */
  copies: DockerfileCopy[];
  /** The final CMD in exec form (a shell-form CMD becomes `/bin/sh -c <text>`); empty when there is none. */
  cmd: string[];
  /** Whether the final stage copies from another stage or image (`COPY --from`): its tree is not the context. */
  copyFrom: boolean;
}

/** The Dockerfile cannot be read the way pgshift relies on, or it would not build. */
export class DockerfileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DockerfileError';
  }
}

interface Instruction {
  keyword: string;
  rest: string;
  line: number;
}

/** Joins continuation lines (trailing `\`), drops comments and blank lines. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let current: { text: string; line: number } | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const trimmed = raw.trim();
    // Comment lines are skipped even inside a continuation, as Docker does.
    if (trimmed.startsWith('#') || (trimmed === '' && !current)) return;
    const continued = /\\\s*$/.test(raw);
    const piece = continued ? raw.replace(/\\\s*$/, '') : raw;
    if (current) current.text += ' ' + piece.trim();
    else current = { text: piece.trim(), line: i + 1 };
    if (!continued) {
      const m = /^(\S+)\s*(.*)$/s.exec(current.text.trim());
      const [, keyword, rest = ''] = m ?? [];
      if (keyword) out.push({ keyword: keyword.toUpperCase(), rest: rest.trim(), line: current.line });
      current = undefined;
    }
  });
  if (current) throw new DockerfileError(`line ${current.line}: the file ends inside a line continuation`);
  return out;
}

const VARIABLE = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::[-+][^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/** Substitutes known variables; unknown ones (e.g. the base image's LAMBDA_TASK_ROOT) stay as written. */
function substitute(text: string, known: Record<string, string | undefined>): string {
  return text.replace(VARIABLE, (whole, braced?: string, bare?: string) => {
    const name = braced ?? bare;
    const value = name === undefined ? undefined : known[name];
    return value === undefined ? whole : value;
  });
}

/** Splits on whitespace, honouring double and single quotes anywhere in a word (`A="b c"`). */
function words(text: string): string[] {
  const out: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (quote) {
      // Inside quotes a word has begun (`word ??= ''` at the opening quote).
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) word = (word ?? '') + text.charAt(++i);
      else word = (word ?? '') + c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (/\s/.test(c)) {
      if (word !== undefined) out.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) out.push(word);
  return out;
}

/** `["a", "b"]` exec form, else undefined. */
function execForm(text: string): string[] | undefined {
  if (!text.startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (isStringArray(parsed)) return parsed;
  } catch {
    // Docker treats a malformed JSON array as shell form.
  }
  return undefined;
}

/** What the Dockerfile's current (in the end, final) stage says so far. */
type Stage = Dockerfile;

function newStage(from: string): Stage {
  return { from, args: {}, env: {}, copies: [], cmd: [], copyFrom: false };
}

/** Refuses `${NAME}` of an ARG declared only before the first FROM: it expands to "" in a stage. */
function refuseGlobalOnlyVariables(
  ins: Instruction,
  globalArgs: Record<string, string | undefined>,
  stage: Stage,
): void {
  for (const m of ins.rest.matchAll(VARIABLE)) {
    const name = m[1] ?? m[2] ?? '';
    if (name in globalArgs && !(name in stage.args) && !(name in stage.env)) {
      throw new DockerfileError(
        `line ${ins.line}: ${ins.keyword} uses \${${name}}, but ARG ${name} is declared only before the first ` +
          `FROM, where it is visible to FROM lines only; it expands to "" here. Repeat "ARG ${name}" after FROM.`,
      );
    }
  }
}

function readEnv(ins: Instruction, stage: Stage, known: Record<string, string | undefined>): void {
  const parts = words(ins.rest);
  const [first] = parts;
  if (first !== undefined && !first.includes('=')) {
    // Legacy `ENV NAME value with spaces`.
    stage.env[first] = substitute(ins.rest.slice(ins.rest.indexOf(first) + first.length).trim(), known);
    return;
  }
  for (const p of parts) {
    const at = p.indexOf('=');
    if (at <= 0) throw new DockerfileError(`line ${ins.line}: ENV "${p}" is not NAME=value`);
    stage.env[p.slice(0, at)] = substitute(p.slice(at + 1), { ...known, ...stage.env });
  }
}

function readCopy(ins: Instruction, stage: Stage, known: Record<string, string | undefined>): void {
  const all = execForm(ins.rest) ?? words(ins.rest);
  const flags = all.filter((w) => w.startsWith('--'));
  const operands = all.filter((w) => !w.startsWith('--')).map((w) => substitute(w, known));
  if (flags.some((f) => f.startsWith('--from'))) {
    stage.copyFrom = true;
    return;
  }
  const dest = operands[operands.length - 1];
  if (operands.length < 2 || dest === undefined)
    throw new DockerfileError(`line ${ins.line}: COPY needs a source and a destination`);
  for (const src of operands.slice(0, -1)) {
    if (/[*?[]/.test(src)) {
      throw new DockerfileError(`line ${ins.line}: COPY source "${src}" is a pattern; name the path itself`);
    }
    stage.copies.push({ src, dest });
  }
}

/** One instruction of a stage after its FROM (ARG and FROM are read by readDockerfile). */
function readStageInstruction(ins: Instruction, stage: Stage): void {
  const known = { ...stage.args, ...stage.env };
  switch (ins.keyword) {
    case 'ENV':
      readEnv(ins, stage, known);
      break;
    case 'COPY':
      readCopy(ins, stage, known);
      break;
    case 'ADD':
      throw new DockerfileError(
        `line ${ins.line}: ADD is not allowed in pgshift's image (it can fetch URLs and unpack archives); ` +
          'COPY what the CDK bundling built instead',
      );
    case 'CMD':
      stage.cmd = execForm(ins.rest) ?? ['/bin/sh', '-c', ins.rest];
      break;
    default:
      break;
  }
}

/** Reads pgshift's Dockerfile; throws DockerfileError for what would break the build or the tree it describes. */
export function readDockerfile(text: string): Dockerfile {
  const globalArgs: Record<string, string | undefined> = {};
  let stage: Stage | undefined;
  for (const ins of instructions(text)) {
    if (ins.keyword === 'FROM') {
      const [image] = words(ins.rest).filter((w) => !w.startsWith('--'));
      if (image === undefined) throw new DockerfileError(`line ${ins.line}: FROM without an image`);
      stage = newStage(substitute(image, globalArgs));
      continue;
    }
    if (ins.keyword === 'ARG') {
      const [name = '', ...value] = ins.rest.split('=');
      const declared = name.trim();
      const fallback = value.length > 0 ? value.join('=').replace(/^"(.*)"$/, '$1') : undefined;
      if (!stage) globalArgs[declared] = fallback;
      // A stage's `ARG X` without a default inherits the global default.
      else stage.args[declared] = fallback ?? globalArgs[declared];
      continue;
    }
    if (!stage) throw new DockerfileError(`line ${ins.line}: ${ins.keyword} before the first FROM`);
    refuseGlobalOnlyVariables(ins, globalArgs, stage);
    readStageInstruction(ins, stage);
  }
  if (!stage) throw new DockerfileError('no FROM line');
  return stage;
}

/** Substitutes `${NAME}`/`$NAME` from `vars` in an image path (e.g. LAMBDA_TASK_ROOT, set by the base image). */
export function expandImagePath(dest: string, vars: Record<string, string>): string {
  const out = substitute(dest, vars);
  const left = /\$\{?[A-Za-z_]/.exec(out);
  if (left) throw new DockerfileError(`"${dest}" names a variable that is not known: ${out}`);
  return out;
}

/**
 * The files the COPYs put in the image: image path (absolute, POSIX) -> file in the build context. Docker's
 * rules: a directory source copies its contents into `dest`; a file source lands at `dest`, or inside it when
 * `dest` ends with "/". Throws when a source is missing from the context.
 */
export function imageFiles(
  dockerfile: Pick<Dockerfile, 'copies'>,
  contextDir: string,
  vars: Record<string, string>,
): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (from: string, to: string): void => {
    if (fs.statSync(from).isDirectory()) {
      for (const entry of fs.readdirSync(from)) walk(path.join(from, entry), path.posix.join(to, entry));
    } else {
      files.set(to, from);
    }
  };
  for (const { src, dest } of dockerfile.copies) {
    const source = path.resolve(contextDir, src);
    if (path.relative(contextDir, source).startsWith('..')) {
      throw new DockerfileError(`COPY source "${src}" is outside the build context`);
    }
    if (!fs.existsSync(source)) {
      throw new DockerfileError(`COPY source "${src}" does not exist in the build context ${contextDir}`);
    }
    const target = expandImagePath(dest, vars);
    if (!path.posix.isAbsolute(target)) {
      throw new DockerfileError(
        `COPY destination "${dest}" is not absolute; pgshift's image names full paths`,
      );
    }
    const isDir = fs.statSync(source).isDirectory();
    walk(source, !isDir && target.endsWith('/') ? path.posix.join(target, path.basename(source)) : target);
  }
  return files;
}
