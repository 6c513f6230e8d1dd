// The pushed tree as the spec parser sees it. A commit or an upload is input
// (DESIGN.md, Trust): every path the spec names is resolved with its symbolic
// links, and a path that leads outside the tree is reported as "outside", never
// opened. The parser only asks; the file system side lives in source/tree.ts.

/** What is at a path of the tree, after following its symbolic links. */
export type TreeEntryKind = "file" | "directory" | "missing" | "outside" | "other";

/** Read access to the pushed tree, confined to it. Paths are relative to the spec file's directory. */
export interface SpecTree {
  /** What the path names, resolved with its links; "outside" when any link leads out of the tree. */
  kind(relativePath: string): TreeEntryKind;
  /**
   * The UTF-8 text of a file inside the tree: undefined when the path is not
   * a regular file of the tree (missing, outside, a directory, a device) or
   * larger than the parser reads (`TREE_TEXT_LIMIT_BYTES`).
   */
  readText(relativePath: string): string | undefined;
}

/** Text files the spec names (env files, .env) are small; a bigger one is refused, not read. */
export const TREE_TEXT_LIMIT_BYTES = 1024 * 1024;

/** Says why a path of the tree is not the `wanted` thing (e.g. "a file"), without naming anything outside the tree. */
export function describeTreeEntry(kind: TreeEntryKind, wanted: string): string {
  switch (kind) {
    case "outside":
      return "leads outside the repository (through a symbolic link or ..); Skiff reads only files inside the pushed tree, so commit the file itself instead of a link to it";
    case "missing":
      return "does not exist in the repository; paths are relative to the directory of compose.yaml";
    case "other":
      return `is not ${wanted} (a device, socket, FIFO or a loop of symbolic links)`;
    case "directory":
      return `is a directory, not ${wanted}`;
    case "file":
      return `is a file, not ${wanted}`;
  }
}
