import * as fs from 'node:fs';
import * as path from 'node:path';

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
      if (m) out.push({ keyword: m[1].toUpperCase(), rest: m[2].trim(), line: current.line });
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
    const value = known[(braced ?? bare) as string];
    return value === undefined ? whole : value;
  });
}

/** Splits on whitespace, honouring double and single quotes anywhere in a word (`A="b c"`). */
function words(text: string): string[] {
  const out: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) word += text[++i];
      else word += c;
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
    if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) return parsed as string[];
  } catch {
    // Docker treats a malformed JSON array as shell form.
  }
  return undefined;
}

/** Reads pgshift's Dockerfile; throws DockerfileError for what would break the build or the tree it describes. */
export function readDockerfile(text: string): Dockerfile {
  const globalArgs: Record<string, string | undefined> = {};
  let stages = 0;
  let from = '';
  let args: Record<string, string | undefined> = {};
  let env: Record<string, string> = {};
  let copies: DockerfileCopy[] = [];
  let cmd: string[] = [];
  let copyFrom = false;

  const checkVariables = (ins: Instruction): void => {
    for (const m of ins.rest.matchAll(VARIABLE)) {
      const name = m[1] ?? m[2];
      if (name in globalArgs && !(name in args) && !(name in env)) {
        throw new DockerfileError(
          `line ${ins.line}: ${ins.keyword} uses \${${name}}, but ARG ${name} is declared only before the first ` +
            `FROM, where it is visible to FROM lines only; it expands to "" here. Repeat "ARG ${name}" after FROM.`,
        );
      }
    }
  };

  for (const ins of instructions(text)) {
    if (ins.keyword === 'FROM') {
      const parts = words(ins.rest).filter((w) => !w.startsWith('--'));
      if (parts.length === 0) throw new DockerfileError(`line ${ins.line}: FROM without an image`);
      stages += 1;
      from = substitute(parts[0], globalArgs);
      args = {};
      env = {};
      copies = [];
      cmd = [];
      copyFrom = false;
      continue;
    }
    if (ins.keyword === 'ARG') {
      const [name, ...value] = ins.rest.split('=');
      const declared = name.trim();
      const fallback = value.length > 0 ? value.join('=').replace(/^"(.*)"$/, '$1') : undefined;
      if (stages === 0) globalArgs[declared] = fallback;
      // A stage's `ARG X` without a default inherits the global default.
      else args[declared] = fallback ?? globalArgs[declared];
      continue;
    }
    if (stages === 0) {
      throw new DockerfileError(`line ${ins.line}: ${ins.keyword} before the first FROM`);
    }
    checkVariables(ins);
    const known = { ...args, ...env };
    switch (ins.keyword) {
      case 'ENV': {
        const parts = words(ins.rest);
        if (parts.length > 0 && !parts[0].includes('=')) {
          // Legacy `ENV NAME value with spaces`.
          env[parts[0]] = substitute(
            ins.rest.slice(ins.rest.indexOf(parts[0]) + parts[0].length).trim(),
            known,
          );
        } else {
          for (const p of parts) {
            const at = p.indexOf('=');
            if (at <= 0) throw new DockerfileError(`line ${ins.line}: ENV "${p}" is not NAME=value`);
            env[p.slice(0, at)] = substitute(p.slice(at + 1), { ...known, ...env });
          }
        }
        break;
      }
      case 'COPY': {
        const all = execForm(ins.rest) ?? words(ins.rest);
        const flags = all.filter((w) => w.startsWith('--'));
        const operands = all.filter((w) => !w.startsWith('--')).map((w) => substitute(w, known));
        if (flags.some((f) => f.startsWith('--from'))) {
          copyFrom = true;
          break;
        }
        if (operands.length < 2)
          throw new DockerfileError(`line ${ins.line}: COPY needs a source and a destination`);
        const dest = operands[operands.length - 1];
        for (const src of operands.slice(0, -1)) {
          if (/[*?[]/.test(src)) {
            throw new DockerfileError(
              `line ${ins.line}: COPY source "${src}" is a pattern; name the path itself`,
            );
          }
          copies.push({ src, dest });
        }
        break;
      }
      case 'ADD':
        throw new DockerfileError(
          `line ${ins.line}: ADD is not allowed in pgshift's image (it can fetch URLs and unpack archives); ` +
            'COPY what the CDK bundling built instead',
        );
      case 'CMD':
        cmd = execForm(ins.rest) ?? ['/bin/sh', '-c', ins.rest];
        break;
      default:
        break;
    }
  }
  if (stages === 0) throw new DockerfileError('no FROM line');
  return { from, args, env, copies, cmd, copyFrom };
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
