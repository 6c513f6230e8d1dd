import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

/** One line the git client wrote to stderr, with when it arrived (ms since the command started). */
export interface TimedLine {
  at: number;
  text: string;
}

export interface GitResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stderr split at \n and \r (progress meters rewrite their line with \r). */
  lines: TimedLine[];
  /** ms from start to exit. */
  duration: number;
}

/**
 * An environment for the git client that ignores the host's git config and
 * never prompts: tests see exactly what a fresh user would.
 */
export function isolatedGitEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  mkdirSync(home, { recursive: true });
  return {
    PATH: process.env.PATH,
    HOME: home,
    LANG: "C",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: join(home, "gitconfig-none"),
    GIT_TERMINAL_PROMPT: "0",
    GIT_AUTHOR_NAME: "Test",
    GIT_AUTHOR_EMAIL: "test@example.com",
    GIT_COMMITTER_NAME: "Test",
    GIT_COMMITTER_EMAIL: "test@example.com",
    ...extra,
  };
}

/** A running git command; `result` resolves when it exits. */
export interface RunningGit {
  child: ChildProcess;
  /**
   * Ctrl-C as a terminal sends it: SIGINT to git's whole process group, so
   * git-remote-http (which holds the HTTP connection) gets it too.
   */
  interrupt(): void;
  lines: TimedLine[];
  result: Promise<GitResult>;
}

/** Starts `git ARGS` (argument array), recording each stderr line as it arrives. */
export function startGit(
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): RunningGit {
  const started = Date.now();
  const child = spawn("git", ["-c", "credential.helper=", ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, like a terminal's foreground job.
    detached: true,
  });
  const lines: TimedLine[] = [];
  let stdout = "";
  let stderr = "";
  let partial = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    stderr += text;
    const parts = (partial + text).split(/\r\n|\n|\r/);
    partial = parts.pop() ?? "";
    const at = Date.now() - started;
    for (const part of parts) lines.push({ at, text: part });
  });
  const result = new Promise<GitResult>((resolve) => {
    child.on("close", (code) => {
      if (partial) lines.push({ at: Date.now() - started, text: partial });
      resolve({ code, stdout, stderr, lines, duration: Date.now() - started });
    });
  });
  const interrupt = () => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGINT");
  };
  return { child, interrupt, lines, result };
}

/** Runs `git ARGS` to the end. */
export function git(
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<GitResult> {
  return startGit(args, options).result;
}

/** Runs `git ARGS` and returns stdout; throws with stderr on failure. */
export async function gitOk(
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<string> {
  const result = await git(args, options);
  if (result.code !== 0) {
    throw new Error(`git ${args.join(" ")} failed (${result.code}): ${result.stderr}`);
  }
  return result.stdout.trim();
}
