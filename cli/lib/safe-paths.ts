/**
 * Where the CLI reads and writes on the user's disk: only inside the folder it was pointed at.
 * A path is checked by what it resolves to, not by how it is spelled, so a symbolic link (of
 * the file itself or of any folder on its way) that leads outside is refused, naming the link.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, realpath, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';

/** A path that resolves outside the folder it must stay in. */
export class OutsideFolderError extends Error {
  override name = 'OutsideFolderError';
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!isAbsolute(rel) && !rel.split(sep).includes('..'));
}

/**
 * Checks that `path` (a file to read, relative to `root` or absolute) resolves, links followed,
 * inside `root`; `what` names it in the error. Throws OutsideFolderError otherwise.
 */
export async function assertReadsInside(root: string, path: string, what: string): Promise<void> {
  const realRoot = await realpath(root);
  const target = resolve(root, path);
  const real = await realpath(target);
  if (!isInside(realRoot, real))
    throw new OutsideFolderError(
      `${what} ${JSON.stringify(relative(root, target))} is a symbolic link (or lies under one) that leads outside ${realRoot}: refused`,
    );
}

/**
 * Checks that writing `dest` (an absolute path under `root`) stays inside `root`: the deepest
 * part of it that exists resolves inside `root`, and `dest` itself, if it exists, is no symbolic
 * link (writing would follow it). Throws OutsideFolderError naming the link otherwise.
 */
export async function assertWritesInside(root: string, dest: string): Promise<void> {
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch {
    return; // The folder does not exist yet: it is created, with nothing in it to follow.
  }
  const own = await lstat(dest).catch(() => undefined);
  if (own?.isSymbolicLink())
    throw new OutsideFolderError(
      `${relative(root, dest)} is a symbolic link: not written through, remove it first`,
    );
  let existing = dirname(dest);
  for (;;) {
    const real = await realpath(existing).catch(() => undefined);
    if (real !== undefined) {
      if (!isInside(realRoot, real))
        throw new OutsideFolderError(
          `${relative(root, existing) || '.'} is a symbolic link (or lies under one) that leads outside ${realRoot}: refused`,
        );
      return;
    }
    const parent = dirname(existing);
    if (parent === existing) return;
    existing = parent;
  }
}

/** Open flags for writing a file that refuse to follow a symbolic link in its place (ELOOP; POSIX only). */
const WRITE_NO_FOLLOW =
  constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (constants.O_NOFOLLOW ?? 0);

/**
 * Writes `body` to `dest` (an absolute path under `root`), making its folders, without ever
 * writing through a symbolic link that leads outside `root`: checked before and after the folders
 * are made, and the file itself is opened without following a link in its place.
 */
export async function writeInside(
  root: string,
  dest: string,
  body: string | Uint8Array,
): Promise<void> {
  await assertWritesInside(root, dest);
  await mkdir(dirname(dest), { recursive: true });
  await assertWritesInside(root, dest);
  await writeFile(dest, body, { flag: WRITE_NO_FOLLOW });
}
