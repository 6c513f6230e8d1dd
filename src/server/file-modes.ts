import { chmodSync, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { SkiffPaths } from "../config.js";
import { restrictDatabaseModes } from "../state/database.js";

/** Makes `path` `mode` when it exists. */
function restrict(path: string, mode: number): void {
  try {
    chmodSync(path, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

/** Every directory under `dir` becomes 0700 and every regular file 0600 (symlinks are left alone). */
function restrictTree(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  restrict(dir, 0o700);
  for (const entry of entries) {
    const path = join(dir, entry);
    const stat = lstatSync(path);
    if (stat.isDirectory()) restrictTree(path);
    else if (stat.isFile()) restrict(path, 0o600);
  }
}

/**
 * Restricts what an earlier Skiff (or the umask) left readable by others:
 * `$SKIFF_HOME` 0700, the database with its -wal and -shm 0600, the logs and
 * every run's log 0600. Called at every start, so an existing installation
 * is fixed, not only new ones. The home's mode alone keeps other users out;
 * the files' modes still hold when the directory is copied or backed up.
 */
export function restrictHomeModes(home: string, paths: SkiffPaths): void {
  restrict(home, 0o700);
  restrictDatabaseModes(paths.database);
  restrict(paths.adminToken, 0o600);
  restrictTree(paths.logs);
  restrictTree(paths.runs);
}
