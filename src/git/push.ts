import { OBJECT_ID } from "./git-command.js";

/**
 * A push as git's pre-receive hook sees it, as plain data: the ref updates,
 * and where the pushed objects can be read before git accepts them. The
 * server's hook route receives it; a pipeline trigger runs it.
 */

/** One line of pre-receive input: `<old> <new> <ref>`. Zeros as old: a new ref; zeros as new: a deletion. */
export interface RefUpdate {
  oldSha: string;
  newSha: string;
  ref: string;
}

/** Where receive-pack keeps the pushed objects until the hook accepts them (git's quarantine). */
export interface QuarantineEnv {
  GIT_OBJECT_DIRECTORY?: string;
  GIT_ALTERNATE_OBJECT_DIRECTORIES?: string;
  GIT_QUARANTINE_PATH?: string;
}

/** A push waiting in pre-receive: the app, its ref updates, and where its objects can be read. */
export interface PushRequest {
  app: string;
  updates: RefUpdate[];
  /** Absolute path of the bare repository. */
  gitDir: string;
  quarantine: QuarantineEnv;
}

/** How a push's pipeline talks back: each line reaches the pusher as `remote: …` at once. */
export interface PushOutput {
  line(text: string): void;
  /** Aborted when the pusher goes away (Ctrl-C, lost connection): stop the run. */
  signal: AbortSignal;
}

/** What a push's run decided: ok lets git move the refs; anything else rejects the push. */
export interface PushResult {
  ok: boolean;
  /** Why it failed, one line; shown to the pusher as `skiff: push rejected: <reason>`. */
  reason?: string;
}

/**
 * Parses pre-receive's standard input, one `<old-oid> SP <new-oid> SP
 * <ref-name> LF` per ref (githooks(5)); throws on a line that is not that.
 * The ref is the rest of the line, whatever characters git allowed in it.
 */
export function parseRefUpdates(input: string): RefUpdate[] {
  const updates: RefUpdate[] = [];
  for (const line of input.split("\n")) {
    if (line.trim() === "") continue;
    const [oldSha = "", newSha = "", ...rest] = line.split(" ");
    const ref = rest.join(" ");
    if (!OBJECT_ID.test(oldSha) || !OBJECT_ID.test(newSha) || ref === "") {
      throw new Error(`unexpected pre-receive input line ${JSON.stringify(line)}`);
    }
    updates.push({ oldSha, newSha, ref });
  }
  return updates;
}
