import { spawn } from "node:child_process";
import { SkiffError } from "../errors.js";

/**
 * A git (or tar) subprocess that failed: what Skiff tried, the exit code, the
 * tail of stderr and what to do about it. Thrown by every module in this folder.
 */
export class GitCommandError extends SkiffError {
  override readonly code = "git_failed";
  constructor(
    message: string,
    /** The command as run, e.g. `git archive --format=tar 1f2e…`. */
    readonly command: string,
    /** null when the process was killed by a signal or never started. */
    readonly exitCode: number | null,
    readonly stderr: string,
    hint?: string,
  ) {
    super(stderr.trim() ? `${message}: ${lastLines(stderr, 5)}` : message, hint);
  }
}

/** The last `count` non-empty lines of a process's stderr, joined for a one-line message. */
export function lastLines(text: string, count: number): string {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(-count)
    .join(" | ");
}

/** A full object name: SHA-1 (40 hex) or SHA-256 (64 hex). */
export const OBJECT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** An object name of all zeros: git's "no object" on either side of a ref update. */
export function isNullObjectId(id: string): boolean {
  return /^0+$/.test(id);
}

/**
 * The environment every git process Skiff starts begins with: the host's PATH
 * and locale, and none of the system's or the server user's own git config
 * (GIT_CONFIG_NOSYSTEM, GIT_CONFIG_GLOBAL=/dev/null, git ≥ 2.32). A personal
 * `core.hooksPath`, `init.templateDir` or `url.*.insteadOf` must never change
 * what a push runs or what a build exports.
 */
export function gitBaseEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const base: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ"]) {
    const value = env[name];
    if (value) base[name] = value;
  }
  base.GIT_CONFIG_NOSYSTEM = "1";
  base.GIT_CONFIG_GLOBAL = "/dev/null";
  base.GIT_TERMINAL_PROMPT = "0";
  return base;
}

export interface GitRun {
  args: string[];
  env: Record<string, string>;
  /** What Skiff was doing, for the error: "could not create the repository for shop". */
  what: string;
  hint: string;
  input?: string;
  cwd?: string;
}

/** Runs `git ARGS` to completion; resolves with stdout, throws GitCommandError on a non-zero exit. */
export function runGit(run: GitRun): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const command = `git ${run.args.join(" ")}`;
    const child = spawn("git", run.args, {
      env: run.env,
      ...(run.cwd ? { cwd: run.cwd } : {}),
      stdio: ["pipe", "pipe", "pipe"],
    });
    const stdout: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    // git may exit before reading all its input (a bad object name): EPIPE is not the failure.
    child.stdin.on("error", () => {});
    child.stdin.end(run.input ?? "");
    child.once("error", (error) =>
      reject(
        new GitCommandError(
          `${run.what}: could not start git (${error.message})`,
          command,
          null,
          "",
          "install git (Debian: apt-get install git) and make sure it is on PATH",
        ),
      ),
    );
    child.once("close", (code) => {
      if (code === 0) resolve(Buffer.concat(stdout));
      else reject(new GitCommandError(run.what, command, code, stderr, run.hint));
    });
  });
}
