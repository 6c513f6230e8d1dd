import { constants } from "node:fs";
import { type FileHandle, lstat, open, readdir, readlink, realpath } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { ValidationError } from "../errors.js";
import { SourceTree } from "../source/tree.js";
import { describeTreeEntry } from "../spec/tree.js";
import { cleanPath, IgnoreMatcher, parseDockerignore, withBuildFilesKept } from "./dockerignore.js";
import { endOfArchive, entryHeader, padding, type TarEntry } from "./tar.js";

/**
 * The build context: the service's directory as a tar stream, as the Docker
 * CLI sends it (docker/cli `build.ValidateContextDirectory` and
 * docker/docker `pkg/archive.TarWithOptions`):
 * - `.dockerignore` decides what is left out; the Dockerfile and
 *   `.dockerignore` are always sent, since the daemon reads them;
 * - symbolic links are sent as links and never followed, so nothing outside
 *   the context directory is read (BuildKit resolves links inside the context);
 * - owners are root (uid/gid 0), like the CLI's ChownOpts; modes and
 *   modification times are kept; entries are sorted by name, so the same tree
 *   gives the same bytes;
 * - sockets, FIFOs and devices are skipped: a source tree has no use for them.
 */

export interface BuildContextOptions {
  /** The Dockerfile, relative to the context directory. Default `Dockerfile`. */
  dockerfile?: string;
  /**
   * False for a whole app's source tree (`skiff deploy` uploads it), which
   * need not have a Dockerfile at its root. Default true.
   */
  requireDockerfile?: boolean;
  /** Patterns left out before `.dockerignore`'s own (which may bring them back with `!`). */
  exclude?: string[];
}

/** One entry of the context: where it is on disk and how it goes into the archive. */
export interface ContextEntry {
  source: string;
  entry: TarEntry;
}

const READ_CHUNK = 64 * 1024;

/**
 * The context directory as a tar stream honouring `.dockerignore`. Throws a
 * ValidationError before streaming when the directory or the Dockerfile is
 * missing or the Dockerfile lies outside the context.
 */
export async function createBuildContext(
  contextDir: string,
  options: BuildContextOptions = {},
): Promise<Readable> {
  const entries = await listBuildContext(contextDir, options);
  return Readable.from(tarChunks(entries), { objectMode: false });
}

/** What `createBuildContext` would send, in archive order. */
export async function listBuildContext(
  contextDir: string,
  options: BuildContextOptions = {},
): Promise<ContextEntry[]> {
  const root = await resolveContextDir(contextDir);
  const dockerfile = contextRelativeDockerfile(options.dockerfile ?? "Dockerfile");
  const dockerfileStat = await lstat(join(root, dockerfile)).catch(() => undefined);
  if (
    options.requireDockerfile !== false &&
    !(dockerfileStat?.isFile() || dockerfileStat?.isSymbolicLink())
  ) {
    throw new ValidationError(
      `build context ${contextDir}: no Dockerfile at ${dockerfile}`,
      "add the Dockerfile, or name it with build.dockerfile in compose.yaml (relative to the context)",
    );
  }
  const ignoreText = readDockerignore(root);
  const matcher = new IgnoreMatcher(
    withBuildFilesKept([...(options.exclude ?? []), ...parseDockerignore(ignoreText)], dockerfile),
  );
  const entries: ContextEntry[] = [];
  await walk(root, "", matcher, entries);
  return entries;
}

/**
 * The Dockerfile path cleaned and checked to stay inside the context: the
 * daemon reads it from the archive, so `../Dockerfile` can never work.
 */
export function contextRelativeDockerfile(dockerfile: string): string {
  const cleaned = cleanPath(dockerfile.replaceAll("\\", "/"));
  if (cleaned.startsWith("/") || cleaned === ".." || cleaned.startsWith("../") || cleaned === ".") {
    throw new ValidationError(
      `Dockerfile ${JSON.stringify(dockerfile)} is outside the build context`,
      "build.dockerfile is relative to build.context and must stay inside it; move the Dockerfile or widen the context",
    );
  }
  return cleaned;
}

/**
 * `.dockerignore`, read only when it is a file inside the context: the
 * context may come from a pushed commit, whose links must never lead Skiff
 * to read a host file (DESIGN.md, Trust).
 */
function readDockerignore(root: string): string {
  const tree = new SourceTree(root);
  const kind = tree.kind(".dockerignore");
  if (kind === "missing") return "";
  const text = kind === "file" ? tree.readText(".dockerignore") : undefined;
  if (text === undefined) {
    throw new ValidationError(
      `build context: .dockerignore ${describeTreeEntry(kind, "a file")}`,
      "make .dockerignore a small text file inside the build context",
    );
  }
  return text;
}

async function resolveContextDir(contextDir: string): Promise<string> {
  let root: string;
  try {
    root = await realpath(contextDir);
  } catch {
    throw new ValidationError(
      `build context ${contextDir} does not exist`,
      "build.context in compose.yaml is relative to the repository root; check the path",
    );
  }
  if (!(await lstat(root)).isDirectory()) {
    throw new ValidationError(
      `build context ${contextDir} is not a directory`,
      "build.context must name a directory that holds the Dockerfile",
    );
  }
  return root;
}

async function walk(
  root: string,
  dir: string,
  matcher: IgnoreMatcher,
  out: ContextEntry[],
): Promise<void> {
  const names = (await readdir(join(root, dir))).sort();
  for (const name of names) {
    const path = dir === "" ? name : `${dir}/${name}`;
    const source = join(root, path);
    const stat = await lstat(source);
    if (matcher.excludes(path)) {
      // An excluded directory is still walked when an exception may keep something in it.
      if (stat.isDirectory() && matcher.mayKeepInside(path)) await walk(root, path, matcher, out);
      continue;
    }
    const base = { path, mode: stat.mode, mtime: Math.floor(stat.mtimeMs / 1000) };
    if (stat.isDirectory()) {
      out.push({ source, entry: { ...base, type: "directory", size: 0 } });
      await walk(root, path, matcher, out);
    } else if (stat.isSymbolicLink()) {
      const linkname = await readlink(source);
      out.push({ source, entry: { ...base, type: "symlink", size: 0, linkname } });
    } else if (stat.isFile()) {
      out.push({ source, entry: { ...base, type: "file", size: stat.size } });
    }
  }
}

async function* tarChunks(entries: ContextEntry[]): AsyncGenerator<Buffer> {
  for (const { source, entry } of entries) {
    yield entryHeader(entry);
    if (entry.type !== "file") continue;
    yield* fileContent(source, entry.size);
    yield padding(entry.size);
  }
  yield endOfArchive();
}

/**
 * Exactly `size` bytes of the file (the size its header announced): a file
 * that grew meanwhile is cut, one that shrank is padded with zeros, so the
 * archive stays well-formed. O_NOFOLLOW: a file swapped for a link since the
 * walk is refused rather than followed.
 */
async function* fileContent(path: string, size: number): AsyncGenerator<Buffer> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    throw new ValidationError(
      `build context: cannot read ${path} (${code || (error as Error).message})`,
      code === "EACCES"
        ? "make the file readable by the user Skiff runs as, or list it in .dockerignore"
        : "list the file in .dockerignore if the build does not need it",
    );
  }
  try {
    let remaining = size;
    while (remaining > 0) {
      const buffer = Buffer.alloc(Math.min(READ_CHUNK, remaining));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) {
        yield Buffer.alloc(remaining);
        return;
      }
      remaining -= bytesRead;
      yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}
