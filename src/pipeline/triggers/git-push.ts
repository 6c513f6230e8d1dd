import { exportCommit } from "../../git/export-commit.js";
import type { PushOutput, PushRequest, PushResult, RefUpdate } from "../../git/push.js";
import type { Store } from "../../state/store.js";
import type { Pipeline, SourceProvider } from "../pipeline.js";
import { formatRunEvent } from "../progress-format.js";

const ZERO = /^0+$/;

/** The pushed commit, read from git's quarantine while the push waits in pre-receive. */
export function pushedCommitSource(push: PushRequest, update: RefUpdate): SourceProvider {
  return {
    async fetch(destDir, log) {
      await exportCommit({
        gitDir: push.gitDir,
        commit: update.newSha,
        quarantine: push.quarantine,
        destDir,
      });
      log(`commit ${update.newSha.slice(0, 12)} (${update.ref})`);
      return { commit: update.newSha };
    },
  };
}

/**
 * A push to the deploy branch that git will refuse before its run could
 * start is still recorded, as a failed run with the reason, so every push
 * shows up in `skiff runs`.
 */
export function recordRefusedPush(
  deps: { pipeline: Pipeline; store: Store; pusher?(app: string): string | undefined },
  push: PushRequest,
  reason: string,
  out: PushOutput,
): void {
  const app = deps.store.getApp(push.app);
  if (!app) return;
  const deploy = push.updates.find(
    (u) => u.ref === `refs/heads/${app.deployBranch}` && !ZERO.test(u.newSha),
  );
  if (!deploy) return;
  const run = deps.pipeline.recordRefused(
    app.name,
    {
      kind: "git-push",
      commit: deploy.newSha,
      ref: deploy.ref,
      ...withActor(deps.pusher?.(app.name)),
    },
    reason,
  );
  out.line(`skiff: run ${run.number} of ${app.name} for ${deploy.newSha.slice(0, 12)} refused`);
}

/**
 * What a push does: an update of the app's deploy branch runs the pipeline,
 * and the push waits for it, so the branch moves only when the run succeeded.
 * Other branches are accepted without a run. Progress is streamed to the
 * pusher line by line.
 */
export async function handlePush(
  deps: {
    pipeline: Pipeline;
    store: Store;
    appUrl(app: string): string;
    /** Who is pushing to the app (the token's name), for the run's record. */
    pusher?(app: string): string | undefined;
  },
  push: PushRequest,
  out: PushOutput,
): Promise<PushResult> {
  const app = deps.store.getApp(push.app);
  if (!app) return { ok: false, reason: `no app named "${push.app}"` };
  const deployRef = `refs/heads/${app.deployBranch}`;
  const deploy = push.updates.find((u) => u.ref === deployRef && !ZERO.test(u.newSha));
  for (const update of push.updates) {
    if (update !== deploy) {
      out.line(
        `skiff: ${update.ref} is not the deploy branch (${app.deployBranch}): stored, not deployed`,
      );
    }
  }
  if (!deploy) return { ok: true };

  const submitted = deps.pipeline.submit(
    app.name,
    {
      kind: "git-push",
      commit: deploy.newSha,
      ref: deploy.ref,
      ...withActor(deps.pusher?.(app.name)),
    },
    pushedCommitSource(push, deploy),
  );
  out.line(`skiff: run ${submitted.run.number} of ${app.name} for ${deploy.newSha.slice(0, 12)}`);
  const onAbort = () => deps.pipeline.cancel(submitted.run.id);
  out.signal.addEventListener("abort", onAbort);
  const unsubscribe = submitted.events.subscribe((event) => {
    const line = formatRunEvent(event);
    if (line !== undefined) out.line(line);
  });
  try {
    const run = await submitted.finished;
    if (run.status === "succeeded") {
      const deployed = run.stages.find((s) => s.name === "deploy")?.status === "succeeded";
      out.line(
        deployed
          ? `skiff: release r${run.releaseNumber} of ${app.name} is live: ${deps.appUrl(app.name)}`
          : `skiff: release r${run.releaseNumber} of ${app.name} is published in the registry (not started: no deploy engine yet)`,
      );
      return { ok: true };
    }
    return {
      ok: false,
      reason: `run ${run.number} ${run.status}: ${run.reason ?? "see skiff runs:logs"}`,
    };
  } finally {
    unsubscribe();
    out.signal.removeEventListener("abort", onAbort);
  }
}

function withActor(actor: string | undefined): { actor?: string } {
  return actor ? { actor } : {};
}
