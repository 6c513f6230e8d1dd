// An in-memory SpecTree for tests and tools: which repository paths exist,
// as what. Parents of every listed path are directories, as in a real tree.

import { posix } from "node:path";
import type { SpecTree, TreeEntryKind } from "./tree.js";

/** What the tree holds: text files by path, and paths that are directories, lead outside, or are something else. */
export interface MemoryTreeContents {
  files?: Record<string, string>;
  directories?: readonly string[];
  /** Paths that are symbolic links leading out of the tree. */
  outside?: readonly string[];
  /** Devices, sockets, FIFOs. */
  other?: readonly string[];
}

/** A SpecTree over `contents`; paths are normalised as the parser passes them (no leading ./). */
export function memoryTree(contents: MemoryTreeContents): SpecTree {
  const kinds = new Map<string, TreeEntryKind>([[".", "directory"]]);
  const add = (path: string, kind: TreeEntryKind) => {
    const p = posix.normalize(path);
    kinds.set(p, kind);
    for (let d = posix.dirname(p); d !== "." && !kinds.has(d); d = posix.dirname(d)) {
      kinds.set(d, "directory");
    }
  };
  for (const path of Object.keys(contents.files ?? {})) add(path, "file");
  for (const path of contents.directories ?? []) add(path, "directory");
  for (const path of contents.outside ?? []) add(path, "outside");
  for (const path of contents.other ?? []) add(path, "other");
  const kind = (path: string): TreeEntryKind => {
    const p = posix.normalize(path);
    // Anything below a link that leads outside is outside too.
    for (let d = p; d !== "."; d = posix.dirname(d)) {
      if (kinds.get(d) === "outside") return "outside";
      if (d === posix.dirname(d)) break;
    }
    return kinds.get(p) ?? "missing";
  };
  return {
    kind,
    readText: (path) => {
      const p = posix.normalize(path);
      return kind(p) === "file" ? contents.files?.[p] : undefined;
    },
  };
}
