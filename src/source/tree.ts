// A pushed tree on disk (a commit exported by `git archive`, or an upload
// extracted by tar), read on its behalf and never beyond it. A commit is input
// (DESIGN.md, Trust): it may hold symbolic links to anywhere (`home ->
// ../../..`, `compose.yaml -> /root/.skiff/admin-token`, `env ->
// /proc/self/environ`). Every path Skiff reads for it is resolved here, one
// component at a time with each link followed by hand, so a path that leaves
// the tree is known before anything is opened. Nothing outside is opened at
// all: opening the control plane's live SQLite files from the server process
// and closing them again would drop the database's POSIX locks.

import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
} from "node:fs";
import { isAbsolute, join, relative, sep } from "node:path";
import { ValidationError } from "../errors.js";
import {
  describeTreeEntry,
  type SpecTree,
  TREE_TEXT_LIMIT_BYTES,
  type TreeEntryKind,
} from "../spec/tree.js";

/** Linux gives up after 40 links in one lookup (ELOOP, path_resolution(7)); so does Skiff. */
const MAX_LINKS = 40;

/** Where a path of the tree leads. `path` is the real path on disk when the kind is file, directory or other. */
export interface TreeLookup {
  kind: TreeEntryKind;
  path?: string;
}

/** One entry of a directory of the tree, its link (if it is one) not followed. */
export interface TreeEntry {
  name: string;
  type: "file" | "directory" | "symlink" | "other";
  mode: number;
  /** A link's target, as written. */
  linkname?: string;
}

/** The tree rooted at `root` (which must exist): lookups and reads confined to it. */
export class SourceTree implements SpecTree {
  /** The root's real path: every lookup starts and must stay here. */
  readonly root: string;

  constructor(root: string) {
    this.root = realpathSync(root);
  }

  /** Where `relativePath` leads, following its links inside the tree; "outside" as soon as one leaves it. */
  lookup(relativePath: string): TreeLookup {
    if (isAbsolute(relativePath)) return { kind: "outside" };
    // A NUL byte never names a file (the kernel would cut the path there).
    if (relativePath.includes("\0")) return { kind: "missing" };
    const pending = splitPath(relativePath);
    let current = this.root;
    let links = 0;
    while (pending.length > 0) {
      const part = pending.shift() as string;
      if (part === "." || part === "") continue;
      if (part === "..") {
        if (current === this.root) return { kind: "outside" };
        current = current.slice(0, current.lastIndexOf(sep)) || sep;
        continue;
      }
      const next = join(current, part);
      const stat = lstatOrUndefined(next);
      if (!stat) return { kind: "missing" };
      if (stat.isSymbolicLink()) {
        links += 1;
        if (links > MAX_LINKS) return { kind: "other" };
        const target = readlinkSync(next);
        if (isAbsolute(target)) {
          // An absolute link may only stay inside the tree by naming the tree's own place on disk.
          const inside = this.relativeInside(target);
          if (inside === undefined) return { kind: "outside" };
          current = this.root;
          pending.unshift(...splitPath(inside));
        } else {
          pending.unshift(...splitPath(target));
        }
        continue;
      }
      if (pending.some((p) => p !== "." && p !== "") && !stat.isDirectory()) {
        return { kind: "missing" };
      }
      current = next;
    }
    const stat = lstatSync(current);
    const kind = stat.isFile() ? "file" : stat.isDirectory() ? "directory" : "other";
    return { kind, path: current };
  }

  kind(relativePath: string): TreeEntryKind {
    return this.lookup(relativePath).kind;
  }

  readText(relativePath: string): string | undefined {
    return this.readBytes(relativePath, TREE_TEXT_LIMIT_BYTES)?.toString("utf8");
  }

  /** The bytes of a regular file of the tree; undefined when it is not one, or is larger than `limit`. */
  readBytes(relativePath: string, limit: number): Buffer | undefined {
    const found = this.lookup(relativePath);
    if (found.kind !== "file" || !found.path) return undefined;
    return readSmallFile(found.path, limit);
  }

  /** The names in a directory of the tree, sorted; undefined when the path is not a directory of it. */
  list(relativePath: string): string[] | undefined {
    const found = this.lookup(relativePath);
    if (found.kind !== "directory" || !found.path) return undefined;
    return readdirSync(found.path).sort();
  }

  /**
   * The entries of a directory of the tree as they are, links not followed
   * (as a bind mount shows them), sorted by name; undefined when the path is
   * not a directory of the tree.
   */
  entries(relativePath: string): TreeEntry[] | undefined {
    const found = this.lookup(relativePath);
    if (found.kind !== "directory" || !found.path) return undefined;
    const dir = found.path;
    return readdirSync(dir)
      .sort()
      .map((name) => {
        const stat = lstatSync(join(dir, name));
        const mode = stat.mode & 0o7777;
        if (stat.isSymbolicLink())
          return { name, type: "symlink", mode, linkname: readlinkSync(join(dir, name)) };
        if (stat.isDirectory()) return { name, type: "directory", mode };
        if (stat.isFile()) return { name, type: "file", mode };
        return { name, type: "other", mode };
      });
  }

  /** The permission bits of what the path leads to inside the tree. */
  mode(relativePath: string): number | undefined {
    const found = this.lookup(relativePath);
    return found.path ? lstatSync(found.path).mode & 0o7777 : undefined;
  }

  /**
   * The real path of a directory of the tree, for a reader that walks it
   * itself (the build context). Throws a ValidationError naming `what` when
   * it leaves the tree, is missing or is not a directory.
   */
  directory(relativePath: string, what: string): string {
    const found = this.lookup(relativePath);
    if (found.kind === "directory" && found.path) return found.path;
    throw new ValidationError(
      `${what} ${JSON.stringify(relativePath)} ${describeTreeEntry(found.kind, "a directory")}`,
    );
  }

  /** `absolute` as a path relative to the root, when it lies inside the tree. */
  private relativeInside(absolute: string): string | undefined {
    const rel = relative(this.root, absolute);
    if (rel === "") return ".";
    if (rel.startsWith("..") || isAbsolute(rel)) return undefined;
    return rel;
  }
}

function splitPath(path: string): string[] {
  return path.split("/");
}

function lstatOrUndefined(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Not there, or a name the file system cannot hold (too long, not
    // readable): for a path a commit names, all mean it is not in the tree,
    // and the error must not carry the tree's place on the server's disk.
    if (code === "ENOENT" || code === "ENOTDIR" || code === "ENAMETOOLONG" || code === "EACCES") {
      return undefined;
    }
    throw error;
  }
}

/**
 * The file's bytes, or undefined when it is larger than `limit`. O_NOFOLLOW
 * and O_NONBLOCK: the path was resolved already, so a link or a FIFO swapped
 * in since is refused instead of followed or waited on.
 */
function readSmallFile(path: string, limit: number): Buffer | undefined {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size > limit) return undefined;
    const buffer = Buffer.alloc(stat.size);
    let at = 0;
    while (at < buffer.length) {
      const read = readSync(fd, buffer, at, buffer.length - at, at);
      if (read === 0) break;
      at += read;
    }
    return buffer.subarray(0, at);
  } finally {
    closeSync(fd);
  }
}
