// What runs on this host, read from /proc: the one place Skiff decides that
// a pid is a process of its own before it signals it.

import { readFileSync, readlinkSync, realpathSync } from "node:fs";

/**
 * True when `pid` is alive and runs the executable `command`. Comparing the
 * process's executable guards against a stale pid file whose pid was reused
 * by an unrelated process, which Skiff must never signal.
 */
export function isProcessRunning(
  pid: number,
  command: string,
  args: readonly string[] = [],
): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // A zombie has exited; it only waits for its parent to collect it.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z") return false;
    // An upgraded package leaves running processes on a "(deleted)" executable.
    const exe = readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, "");
    if (exe !== realpathSync(command)) return false;
    // Interpreters (node) run many programs: the arguments tell which one this is.
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return args.every((arg) => argv.some((a) => a === arg || a.endsWith(`/${arg}`)));
  } catch {
    return false;
  }
}
