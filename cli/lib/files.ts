/**
 * Turns the globs, files and directories given to `submit` into validated relative paths, the
 * form they take in S3 keys and the manifest.
 */
import { stat } from 'node:fs/promises';
import { posix, relative, resolve, sep } from 'node:path';
import { glob } from 'tinyglobby';
import { validatePath } from '../../shared/inputs';
import { UsageError } from './exit';
import { assertReadsInside, OutsideFolderError } from './safe-paths';

/** `./src\\a.ts` -> `src/a.ts`: relative to the cwd, forward slashes, no leading `./`. */
export function normalisePath(cwd: string, path: string): string {
  const rel = relative(cwd, resolve(cwd, path)).split(sep).join('/');
  return posix.normalize(rel).replace(/^(\.\/)+/, '');
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Expands patterns relative to `cwd`: a directory means every file under it, a glob is matched
 * (dot files excluded), a plain path must exist. Every result is validated as an S3-safe
 * relative path; anything outside `cwd`, or a pattern matching nothing, is a UsageError.
 */
export async function expandInputs(
  cwd: string,
  patterns: readonly string[],
  what = 'input',
): Promise<string[]> {
  const found = new Set<string>();
  for (const pattern of patterns) {
    const normalised = normalisePath(cwd, pattern);
    if (normalised === '..' || normalised.startsWith('../'))
      throw new UsageError(
        `${what} ${JSON.stringify(pattern)} is outside the working directory: run from the project root`,
      );
    const dir = await isDirectory(resolve(cwd, normalised));
    const query = dir && normalised !== '.' ? `${normalised}/**` : dir ? '**' : normalised;
    const matches = await glob(query, {
      cwd,
      onlyFiles: true,
      dot: false,
      expandDirectories: false,
      ignore: ['**/node_modules/**', '**/.git/**'],
    });
    if (matches.length === 0)
      throw new UsageError(
        `${what} ${JSON.stringify(pattern)} matches no file: check the path or quote the glob`,
      );
    for (const match of matches) found.add(normalisePath(cwd, match));
  }
  const paths = [...found].sort();
  for (const path of paths) {
    const checked = validatePath(what, path);
    if (!checked.ok) throw new UsageError(checked.rejection.reason);
    // A link in the tree must not upload what lies outside it (/etc/..., a home folder).
    try {
      await assertReadsInside(cwd, path, what);
    } catch (err) {
      if (err instanceof OutsideFolderError) throw new UsageError(err.message);
      throw err;
    }
  }
  return paths;
}
