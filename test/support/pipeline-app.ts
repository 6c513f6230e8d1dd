import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type Docker from "dockerode";
import type { BuildStepRecord, RunRecord } from "../../src/state/runs.js";
import { TEST_IMAGE } from "./busybox-image.js";
import { type GitResult, git, gitOk } from "./git-cli.js";
import { readToken, type SkiffSandbox, skiff, waitFor } from "./skiff-harness.js";

/**
 * Helpers for tests that run the whole pipeline: a small app in a git
 * repository, what the registry holds for it, and cleanup of the images it
 * left on the Docker host. Docker Registry HTTP API v2: distribution
 * docs/spec/api.md ("Listing Image Tags", "Existing Manifests").
 */

/** What the pipeline writes into the registry, in the order the publish stage pushes them. */
export const MANIFEST_TYPES = [
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.index.v1+json",
].join(", ");

/**
 * A web app of one service: a RUN step that takes about a second (and
 * writes `token`, so its build cache records are unique to this app and can
 * be pruned by it), a COPY of index.html and httpd as the command. `test`
 * replaces the x-skiff.test command (empty: no test entry).
 */
export function smallApp(
  token: string,
  options: { test?: string; extraSteps?: string[]; index?: string } = {},
): Record<string, string> {
  const test = options.test ?? "cat /built /www/index.html";
  return {
    "compose.yaml": [
      "services:",
      "  web:",
      "    build: .",
      "    x-skiff:",
      "      port: 8080",
      ...(test
        ? ["x-skiff:", "  test:", "    - service: web", `      run: ${JSON.stringify(test)}`]
        : []),
      "",
    ].join("\n"),
    Dockerfile: [
      `FROM ${TEST_IMAGE}`,
      `RUN sleep 1 && echo ${token} > /built`,
      ...(options.extraSteps ?? []),
      "COPY index.html /www/index.html",
      'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]',
      "",
    ].join("\n"),
    "index.html": options.index ?? `<h1>${token}</h1>\n<p>version 1</p>\n`,
  };
}

/** Writes `files` (relative paths) under `dir`. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

/** A new repository at `dir` on branch main with `files` in one commit; returns the commit. */
export async function initRepo(
  dir: string,
  files: Record<string, string>,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  mkdirSync(dir, { recursive: true });
  await gitOk(["init", "--quiet", "--initial-branch=main"], { cwd: dir, env });
  return commitFiles(dir, files, "initial", env);
}

/** Writes `files`, commits everything and returns the new commit. */
export async function commitFiles(
  dir: string,
  files: Record<string, string>,
  message: string,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  writeFiles(dir, files);
  await gitOk(["add", "--all"], { cwd: dir, env });
  await gitOk(["commit", "--quiet", "-m", message], { cwd: dir, env });
  return gitOk(["rev-parse", "HEAD"], { cwd: dir, env });
}

/** The tags of REPOSITORY in the registry, sorted; [] when the repository does not exist. */
export async function registryTags(registryUrl: string, repository: string): Promise<string[]> {
  const response = await fetch(`${registryUrl}/v2/${repository}/tags/list`);
  if (response.status === 404) return [];
  if (!response.ok) throw new Error(`tags of ${repository}: HTTP ${response.status}`);
  const body = (await response.json()) as { tags?: string[] | null };
  return [...(body.tags ?? [])].sort();
}

/** The registry's Docker-Content-Digest for REPOSITORY:TAG (a manifest HEAD); undefined on 404. */
export async function manifestDigest(
  registryUrl: string,
  repository: string,
  tag: string,
): Promise<string | undefined> {
  const response = await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, {
    method: "HEAD",
    headers: { accept: MANIFEST_TYPES },
  });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`HEAD ${repository}:${tag}: HTTP ${response.status}`);
  return response.headers.get("docker-content-digest") ?? undefined;
}

/** The image config's labels of REPOSITORY:TAG, read from the registry (manifest → config blob). */
export async function registryImageLabels(
  registryUrl: string,
  repository: string,
  tag: string,
): Promise<Record<string, string>> {
  const manifest = (await (
    await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, {
      headers: { accept: MANIFEST_TYPES },
    })
  ).json()) as { config: { digest: string } };
  const config = (await (
    await fetch(`${registryUrl}/v2/${repository}/blobs/${manifest.config.digest}`)
  ).json()) as { config?: { Labels?: Record<string, string> | null } };
  return config.config?.Labels ?? {};
}

/**
 * Removes every local image tag under REGISTRY/APP/ (the tags the build
 * stage gave it), each by its exact reference; returns the references removed.
 */
export async function removeAppImages(
  docker: Docker,
  registryAddress: string,
  app: string,
): Promise<string[]> {
  const prefix = `${registryAddress}/${app}/`;
  const images = await docker.listImages();
  const refs = images
    .flatMap((image) => image.RepoTags ?? [])
    .filter((ref) => ref.startsWith(prefix))
    .sort();
  for (const ref of refs) {
    await docker
      .getImage(ref)
      .remove()
      .catch((error: { statusCode?: number }) => {
        if (error.statusCode !== 404) throw error;
      });
  }
  return refs;
}

/** `skiff runs APP --json`, newest first. */
export async function listRuns(sandbox: SkiffSandbox, app: string): Promise<RunRecord[]> {
  const result = await skiff(sandbox, ["runs", app, "--json"]);
  if (result.code !== 0) throw new Error(`skiff runs ${app} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as RunRecord[];
}

/** `skiff runs:show APP N --json`. */
export async function showRun(
  sandbox: SkiffSandbox,
  app: string,
  number: number,
): Promise<{ run: RunRecord; steps: BuildStepRecord[] }> {
  const result = await skiff(sandbox, ["runs:show", app, String(number), "--json"]);
  if (result.code !== 0) throw new Error(`skiff runs:show ${app} ${number}: ${result.stderr}`);
  return JSON.parse(result.stdout) as { run: RunRecord; steps: BuildStepRecord[] };
}

export const FINAL_STATUSES: readonly string[] = [
  "succeeded",
  "failed",
  "cancelled",
  "superseded",
  "interrupted",
];

/** Polls `skiff runs APP --json` until run `number` has a final status; returns it. */
export async function waitForRun(
  sandbox: SkiffSandbox,
  app: string,
  number: number,
  timeoutMs = 60_000,
): Promise<RunRecord> {
  let found: RunRecord | undefined;
  await waitFor(
    `run ${number} of ${app} to finish`,
    async () => {
      found = (await listRuns(sandbox, app)).find((r) => r.number === number);
      return found !== undefined && FINAL_STATUSES.includes(found.status);
    },
    timeoutMs,
  );
  return found as RunRecord;
}

/** `git push --progress` of main from `dir` to app `app` on the sandbox's server, the admin token as password. */
export function pushToSandbox(
  sandbox: SkiffSandbox,
  app: string,
  dir: string,
  env: NodeJS.ProcessEnv,
): Promise<GitResult> {
  const remote = `http://x:${readToken(sandbox)}@127.0.0.1:${sandbox.apiPort}/git/${app}.git`;
  return git(["push", "--progress", remote, "main"], { cwd: dir, env });
}

/** Everything a git command printed, a line each: for assertions and failure messages. */
export function gitOutput(result: GitResult): string {
  return result.lines.map((line) => line.text).join("\n");
}
