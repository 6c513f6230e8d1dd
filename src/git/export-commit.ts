import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { ValidationError } from "../errors.js";
import { GitCommandError, gitBaseEnv, OBJECT_ID, runGit } from "./git-command.js";
import type { QuarantineEnv } from "./push.js";

/** Where a commit's objects are: the repository, plus a push's quarantine while pre-receive runs. */
export interface CommitSource {
  gitDir: string;
  /** A full object name (40 or 64 hex digits), as pushed. */
  commit: string;
  /** From the PushRequest: makes objects of a push not yet accepted readable. Absent for accepted commits. */
  quarantine?: QuarantineEnv;
}

/**
 * The environment that lets git read a commit: GIT_DIR, and, during a push,
 * git's quarantine variables (receive-pack's own hook environment). With
 * GIT_QUARANTINE_PATH set, git also refuses to update refs, which is right:
 * only receive-pack may do that after the hook accepts.
 */
export function commitReadEnv(source: CommitSource): Record<string, string> {
  const env: Record<string, string> = { ...gitBaseEnv(), GIT_DIR: resolve(source.gitDir) };
  for (const [name, value] of Object.entries(source.quarantine ?? {})) {
    if (value) env[name] = value;
  }
  return env;
}

function assertObjectId(commit: string): void {
  if (!OBJECT_ID.test(commit)) {
    throw new ValidationError(
      `${JSON.stringify(commit)} is not a full commit id`,
      "pass the 40 (or 64) hex digit object name, as git reports it in a push",
    );
  }
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((done) => {
    child.once("error", () => done(null));
    child.once("close", (code) => done(code));
  });
}

function collect(stream: NodeJS.ReadableStream | null): () => string {
  let text = "";
  stream?.on("data", (chunk: Buffer) => {
    if (text.length < 64 * 1024) text += chunk.toString("utf8");
  });
  return () => text;
}

/**
 * Writes the commit's tree into `destDir` (created if missing): `git archive
 * --format=tar COMMIT` piped into `tar -x -C destDir`, streamed, never held
 * in memory. Files come out as committed (the repository's info/attributes
 * turns off export-ignore and export-subst); submodules are not included.
 */
export async function exportCommit(options: CommitSource & { destDir: string }): Promise<void> {
  assertObjectId(options.commit);
  const destDir = resolve(options.destDir);
  mkdirSync(destDir, { recursive: true });
  const archiveArgs = ["archive", "--format=tar", options.commit];
  const archive = spawn("git", archiveArgs, {
    env: commitReadEnv(options),
    stdio: ["ignore", "pipe", "pipe"],
  });
  // -x only: GNU tar refuses `..` members and defers symlinks by default.
  const tarArgs = ["-x", "--no-same-owner", "-C", destDir];
  const tar = spawn("tar", tarArgs, { stdio: ["pipe", "ignore", "pipe"] });
  const archiveErr = collect(archive.stderr);
  const tarErr = collect(tar.stderr);
  // If tar dies first, git gets EPIPE; the exit codes below tell the story.
  tar.stdin?.on("error", () => {});
  archive.stdout?.pipe(tar.stdin as NodeJS.WritableStream);
  const [archiveCode, tarCode] = await Promise.all([exitOf(archive), exitOf(tar)]);
  if (archiveCode !== 0) {
    throw new GitCommandError(
      `could not export commit ${options.commit.slice(0, 12)} from ${options.gitDir}`,
      `git ${archiveArgs.join(" ")}`,
      archiveCode,
      archiveErr(),
      options.quarantine
        ? "the pushed objects are readable only while the push's pre-receive hook runs; export before answering the hook"
        : "check that the commit exists in the repository (git cat-file -t COMMIT) and that git is installed",
    );
  }
  if (tarCode !== 0) {
    throw new GitCommandError(
      `could not extract commit ${options.commit.slice(0, 12)} into ${destDir}`,
      `tar ${tarArgs.join(" ")}`,
      tarCode,
      tarErr(),
      `check that ${destDir} is writable and the disk has room (df -h), and that tar is installed`,
    );
  }
}

/**
 * Reads one file of a commit without exporting the tree (e.g. compose.yaml).
 * Resolves undefined when the path does not exist in that commit or is not a
 * file; throws when the commit itself cannot be found.
 */
export async function readBlobAt(
  options: CommitSource & { path: string },
): Promise<Buffer | undefined> {
  assertObjectId(options.commit);
  const path = options.path.replace(/^(?:\.?\/)+/, "");
  if (path === "" || /[\n\r]/.test(path)) {
    throw new ValidationError(`${JSON.stringify(options.path)} is not a file path in a commit`);
  }
  // One cat-file --batch run answers both questions: does the commit exist, and what is at the path.
  const output = await runGit({
    args: ["cat-file", "--batch"],
    env: commitReadEnv(options),
    input: `${options.commit}^{commit}\n${options.commit}:${path}\n`,
    what: `could not read ${path} at ${options.commit.slice(0, 12)} in ${options.gitDir}`,
    hint: "check that the repository exists and git is installed",
  });
  const [commit, file] = parseBatchOutput(output);
  if (commit?.type !== "commit") {
    throw new GitCommandError(
      `commit ${options.commit.slice(0, 12)} is not in ${options.gitDir}`,
      "git cat-file --batch",
      0,
      "",
      options.quarantine
        ? "the pushed objects are readable only while the push's pre-receive hook runs"
        : "was it pushed? (git push shows the commits it sent)",
    );
  }
  return file?.type === "blob" ? file.content : undefined;
}

/** One answer of `git cat-file --batch`; undefined for `<name> missing` (or ambiguous). */
export interface BatchObject {
  type: string;
  content: Buffer;
}

/** Splits `git cat-file --batch` output: `<oid> <type> <size>\n<content>\n` or `<name> missing\n` per input line. */
export function parseBatchOutput(output: Buffer): (BatchObject | undefined)[] {
  const objects: (BatchObject | undefined)[] = [];
  let at = 0;
  while (at < output.length) {
    const newline = output.indexOf(0x0a, at);
    if (newline === -1) break;
    const header = output.subarray(at, newline).toString("utf8");
    at = newline + 1;
    const match = /^[0-9a-f]+ (\w+) (\d+)$/.exec(header);
    if (!match?.[1] || !match[2]) {
      objects.push(undefined);
      continue;
    }
    const size = Number(match[2]);
    objects.push({ type: match[1], content: output.subarray(at, at + size) });
    at += size + 1;
  }
  return objects;
}
