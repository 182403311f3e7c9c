import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A fresh migrations folder holding `files` (name → SQL), optionally on top of a copy of the folder `base`.
 * Each call gets its own temporary directory, so tests never see each other's files.
 */
export async function migrationFolder(files: Record<string, string>, base?: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-migrations-'));
  if (base) await cp(base, dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}
