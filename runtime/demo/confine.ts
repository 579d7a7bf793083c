/**
 * Path confinement for the demo image service: every path a task names must stay inside the
 * working directory, after `..` is resolved and after every symlink (even a dangling one, or one
 * in a directory that does not exist yet) is followed. Checked before anything is read or written.
 */
import { lstat, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { forbidden, messageOf } from './imageErrors.js';

/** Symlinks followed at most (Linux's own limit), so a loop cannot recurse for ever. */
const LINKS_MAX = 40;

const isMissing = (thrown: unknown): boolean => {
  const code = (thrown as { code?: unknown } | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};

/** Whether `candidate` lies strictly below `root` (both absolute and normalised). */
export function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

/**
 * The real path `target` has, or would have once created: the existing part with every symlink
 * resolved (a dangling link is followed to where it points), the missing rest appended.
 */
export async function prospectiveRealPath(target: string, links = { count: 0 }): Promise<string> {
  try {
    return await realpath(target);
  } catch (thrown) {
    if (!isMissing(thrown)) throw thrown;
  }
  const parent = path.dirname(target);
  if (parent === target) return target;
  const realParent = await prospectiveRealPath(parent, links);
  const stats = await lstat(target).catch((thrown: unknown) => {
    if (isMissing(thrown)) return undefined;
    throw thrown;
  });
  if (stats?.isSymbolicLink()) {
    if (++links.count > LINKS_MAX) throw Object.assign(new Error(`too many symbolic links at '${target}'`), { code: 'ELOOP' });
    // A relative link target is relative to the directory the link really lives in.
    return prospectiveRealPath(path.resolve(realParent, await readlink(target)), links);
  }
  return path.join(realParent, path.basename(target));
}

export interface WorkDir {
  /** The directory as configured, absolute. */
  readonly lexical: string;
  /** The same directory with symlinks resolved. */
  readonly real: string;
}

export async function openWorkDir(workDir: string): Promise<WorkDir> {
  const lexical = path.resolve(workDir);
  return { lexical, real: await realpath(lexical) };
}

/**
 * Resolves a requested path inside the working directory, or throws FORBIDDEN: outside after `..`
 * (or absolute elsewhere), or outside once symlinks are followed, or not resolvable at all (a
 * symlink loop, a directory it may not search). Returns the real path to use from then on.
 */
export async function confine(dir: WorkDir, requested: string): Promise<string> {
  const lexical = path.resolve(dir.lexical, requested);
  if (!isInside(dir.lexical, lexical)) throw forbidden(`'${requested}' resolves outside the working directory.`);
  let real: string;
  try {
    real = await prospectiveRealPath(lexical);
  } catch (thrown) {
    throw forbidden(`'${requested}' cannot be resolved: ${messageOf(thrown)}`);
  }
  if (!isInside(dir.real, real)) throw forbidden(`'${requested}' leads outside the working directory.`);
  return real;
}
