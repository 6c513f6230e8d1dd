import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  type ConfigSnapshot,
  EMPTY_CONFIG,
  mergeRolledBackConfig,
  sameConfig,
  secretValues,
} from "../config-vars.js";
import { releaseFingerprints } from "../deploy/fingerprint.js";
import { planOfRecord } from "../deploy/release.js";
import type { NamedSecret, SecretScrubber } from "../secrets/scrubber.js";
import type { AppSpec, Plan } from "../spec/index.js";
import { encodePlan } from "../spec/plan-codec.js";
import type { ReleaseFileStore } from "../state/release-files.js";
import type {
  ReleaseImage,
  ReleaseRecord,
  RunRecord,
  RunStore,
  RunTrigger,
  StageName,
} from "../state/runs.js";
import type { UploadSourceStore } from "../state/upload-sources.js";
import { PipelineQueue } from "./queue.js";
import { RunEvents } from "./run-events.js";
import { StageFailure } from "./stage-failure.js";
import type { ReleaseFiles } from "./stages/release-files.js";

// Its own module, so that stages can throw it without importing the pipeline.
export { StageFailure } from "./stage-failure.js";

/** Where a run's source comes from: a pushed commit, a fetched commit, an uploaded tree. */
export interface SourceProvider {
  /** Writes the source tree into `destDir`; says where it came from. */
  fetch(destDir: string, log: (text: string) => void, signal: AbortSignal): Promise<FetchedSource>;
}

/** What a source stage fetched. */
export interface FetchedSource {
  /** The commit, when the tree is one. */
  commit?: string;
  /** The uploaded archive the tree comes from: kept with the release, for a config change later. */
  archiveFile?: string;
  /**
   * A config change: the release live when the run started, whose images
   * run on in the new release for every service whose image the change
   * leaves as it is.
   */
  imagesOf?: ReleaseRecord;
}

/**
 * A rollback's "source": an earlier release, whose images are deployed
 * again by digest as a new release, with nothing built or tested.
 */
export interface RollbackSource {
  rollbackTo: ReleaseRecord;
}

/** What every stage after `source` gets. */
export interface RunContext {
  run: RunRecord;
  app: string;
  sourceDir: string;
  spec: AppSpec;
  plan: Plan;
  /** The files the release puts into its containers, per service (stages/release-files.ts). */
  files: ReleaseFiles;
  /** The release number this run will create if it publishes. */
  releaseNumber: number;
  /** A config change: the live release and its plan, whose images are kept where the image is unchanged. */
  imagesOf?: { release: ReleaseRecord; plan: Plan };
  commit?: string;
  log(text: string, service?: string): void;
  signal: AbortSignal;
  /** Marks the run "rolling-back" while a failed or cancelled deploy is undone. */
  rollingBack(): void;
}

/** An image the build stage produced for one service, before it is published. */
export interface BuiltImage {
  service: string;
  /** Repository without tag, e.g. 127.0.0.1:5000/shop/web. */
  repository: string;
  tags: string[];
  /** Digest of the build's inputs, when Skiff could compute it. */
  buildKey?: string;
  /**
   * Set when the inputs equal those of the previous release's image: that
   * image (in the registry, maybe not on this Docker host) is the result.
   */
  reused?: { digest: string; image: string; release: number };
}

/**
 * The stage implementations. Each throws StageFailure with a message that
 * says what broke and how to fix it; anything else is reported as an
 * unexpected error.
 */
export interface StageRunners {
  /** Parses the spec in the source tree; the returned problems are logged. */
  loadSpec(
    app: string,
    sourceDir: string,
    log: (text: string) => void,
    config: ConfigSnapshot,
  ): {
    spec: AppSpec;
    plan: Plan;
    files: ReleaseFiles;
    /** The values of the spec's Compose `secrets:`, which the run's log must never show. */
    secrets?: NamedSecret[];
  };
  build(ctx: RunContext): Promise<BuiltImage[]>;
  test(ctx: RunContext, images: BuiltImage[]): Promise<"passed" | "none">;
  publish(ctx: RunContext, images: BuiltImage[]): Promise<ReleaseImage[]>;
  /** Makes the release live; "skipped" when there is nothing to deploy to. */
  deploy(ctx: RunContext, releaseNumber: number): Promise<"deployed" | "skipped">;
}

export interface PipelineOptions {
  runs: RunStore;
  runners: StageRunners;
  runsRoot: string;
  workRoot: string;
  /** Where each release's files are kept; without it a release's files live only in the run. */
  releaseFiles?: ReleaseFileStore;
  /** The apps' config vars: a run reads them, a rollback brings its release's back. */
  config?: AppConfig;
  /** Where uploaded trees are kept with their releases. */
  uploads?: UploadSourceStore;
  /** The app's live release, whose uploaded tree is never pruned (a config change starts from it). */
  liveRelease?(app: string): number | undefined;
  /** Records a platform event of the app: who started which run. */
  recordEvent?(app: string, message: string): void;
  concurrency?: number;
  now?: () => Date;
}

/** What the pipeline needs of the config store (state/app-config.ts). */
export interface AppConfig {
  snapshot(app: string): ConfigSnapshot;
  replace(app: string, snapshot: ConfigSnapshot): void;
  /** Scrubs an app's secret config vars from a text. */
  scrubber(app: string): SecretScrubber;
}

/** A run in flight, as the trigger that started it sees it. */
export interface SubmittedRun {
  run: RunRecord;
  events: RunEvents;
  /** Resolves with the finished run, whatever its outcome. */
  finished: Promise<RunRecord>;
}

interface LiveRun {
  events: RunEvents;
  controller: AbortController;
  finish(status: RunRecord["status"], reason?: string, releaseNumber?: number): void;
}

/**
 * Turns a commit into a release: source → build → test → publish → deploy.
 * Runs are queued (one per app at a time, a limited number of apps at once),
 * each stage's status, timing and log are recorded, and every event streams
 * to subscribers while it is journaled for replay.
 */
export class Pipeline {
  private readonly queue: PipelineQueue;
  private readonly live = new Map<number, LiveRun>();

  constructor(private readonly options: PipelineOptions) {
    this.queue = new PipelineQueue(options.concurrency ?? 2);
  }

  submit(app: string, trigger: RunTrigger, source: SourceProvider | RollbackSource): SubmittedRun {
    const { runs } = this.options;
    const run = runs.createRun(app, trigger);
    this.options.recordEvent?.(
      app,
      `run ${run.number} (${trigger.kind}${trigger.commit ? ` of ${trigger.commit.slice(0, 12)}` : ""}) started by ${trigger.actor ?? "an unnamed caller"}`,
    );
    const events = new RunEvents(this.options.runsRoot, app, run.number, this.options.now);
    const config = this.options.config;
    if (config) events.scrubWith(() => config.scrubber(app));
    const controller = new AbortController();
    let resolveFinished: (run: RunRecord) => void = () => {};
    const finished = new Promise<RunRecord>((resolve) => {
      resolveFinished = resolve;
    });
    const finish = (status: RunRecord["status"], reason?: string, releaseNumber?: number) => {
      if (!this.live.has(run.id)) return;
      this.live.delete(run.id);
      runs.finishRun(run.id, status, reason && events.scrub(reason), releaseNumber);
      events.emit({ type: "run", status, ...(reason ? { reason } : {}) });
      resolveFinished(runs.getRun(run.id) as RunRecord);
    };
    this.live.set(run.id, { events, controller, finish });
    // Queued on the next microtask, so whoever called submit has subscribed
    // to the events before the first one ("queued") goes out.
    queueMicrotask(() => {
      events.emit({ type: "run", status: "queued" });
      this.queue.enqueue({
        runId: run.id,
        app,
        execute: () => this.execute(run.id, source),
        kind: trigger.kind === "config" ? "config" : "code",
        supersede: (byRunId) => {
          const by = runs.getRun(byRunId);
          finish("superseded", `superseded by run ${by?.number ?? byRunId}, a newer run of ${app}`);
        },
      });
    });
    return { run: runs.getRun(run.id) as RunRecord, events, finished };
  }

  /**
   * Records a run that was refused before any stage could start: its source
   * stage failed with `reason`, and nothing else ran.
   */
  recordRefused(app: string, trigger: RunTrigger, reason: string): RunRecord {
    const { runs } = this.options;
    const run = runs.createRun(app, trigger);
    const events = new RunEvents(this.options.runsRoot, app, run.number, this.options.now);
    const config = this.options.config;
    if (config) events.scrubWith(() => config.scrubber(app));
    runs.startStage(run.id, "source");
    events.emit({ type: "stage", stage: "source", status: "running" });
    events.emit({ type: "log", stage: "source", text: reason });
    runs.finishStage(run.id, "source", "failed");
    events.emit({ type: "stage", stage: "source", status: "failed" });
    runs.finishRun(run.id, "failed", events.scrub(reason));
    events.emit({ type: "run", status: "failed", reason });
    return runs.getRun(run.id) as RunRecord;
  }

  /** Cancels a queued or running run; returns false when it already finished. */
  cancel(runId: number): boolean {
    const live = this.live.get(runId);
    if (!live) return false;
    if (this.queue.remove(runId)) {
      live.finish("cancelled", "cancelled before it started");
      return true;
    }
    live.controller.abort(new Error("cancelled"));
    return true;
  }

  /** Cancels every queued and running run (server shutdown). */
  cancelAll(): void {
    for (const runId of [...this.live.keys()]) this.cancel(runId);
  }

  /** The live event stream of a run in flight; undefined once it finished (replay its journal). */
  liveEvents(runId: number): RunEvents | undefined {
    return this.live.get(runId)?.events;
  }

  /** Waits for every queued and running run (shutdown, tests). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private async execute(runId: number, source: SourceProvider | RollbackSource): Promise<void> {
    const live = this.live.get(runId);
    if (!live) return;
    const { runs, runners } = this.options;
    const { events, controller } = live;
    const signal = controller.signal;
    runs.startRun(runId);
    events.emit({ type: "run", status: "running" });
    const run = runs.getRun(runId) as RunRecord;
    const workDir = join(this.options.workRoot, `${run.app}-${run.number}`);
    rmSync(workDir, { recursive: true, force: true });
    mkdirSync(workDir, { recursive: true });
    let current: StageName = "source";
    const rollingBack = () => {
      runs.markRollingBack(runId);
      events.emit({ type: "run", status: "rolling-back" });
    };
    const stage = async <T>(
      name: StageName,
      work: (log: (text: string, service?: string) => void) => Promise<T>,
    ) => {
      current = name;
      if (signal.aborted) throw signal.reason;
      runs.startStage(runId, name);
      events.emit({ type: "stage", stage: name, status: "running" });
      const log = (text: string, service?: string) => {
        for (const line of text.split("\n")) {
          events.emit({ type: "log", stage: name, text: line, ...(service ? { service } : {}) });
        }
      };
      const result = await work(log);
      const status = result === "skipped" || result === "none" ? "skipped" : "succeeded";
      runs.finishStage(runId, name, status);
      const record = runs.getRun(runId)?.stages.find((s) => s.name === name);
      events.emit({
        type: "stage",
        stage: name,
        status,
        ...(record?.durationMs !== undefined ? { durationMs: record.durationMs } : {}),
      });
      return result;
    };

    try {
      if ("rollbackTo" in source) {
        const target = source.rollbackTo;
        const configAtStart = this.options.config?.snapshot(run.app) ?? EMPTY_CONFIG;
        // Its secrets may be unset by now, and its containers still print them.
        if (target.config) {
          events.addSecrets(
            secretValues(target.config).map((value) => ({ name: "of the release", value })),
          );
        }
        await stage("source", async (log) => {
          log(
            `rollback to r${target.number}${target.commit ? ` (commit ${target.commit.slice(0, 12)})` : ""}: its images run again by digest`,
          );
          return "skipped" as const;
        });
        await stage("build", async () => "skipped" as const);
        await stage("test", async () => "skipped" as const);
        const targetPlan = planOfRecord(target);
        const published = await stage("publish", async (log) => {
          const release = runs.createRelease({
            app: run.app,
            runId,
            ...(target.commit ? { commit: target.commit } : {}),
            trigger: run.trigger,
            spec: target.spec,
            images: target.images,
            status: "published",
            rollbackOf: target.number,
            planJson: encodePlan(targetPlan),
            ...(target.config ? { config: target.config } : {}),
            fingerprints:
              target.fingerprints ??
              releaseFingerprints(
                targetPlan,
                target.images,
                this.options.releaseFiles?.load(run.app, target.number) ?? {},
              ),
          });
          this.options.releaseFiles?.copy(run.app, target.number, release.number);
          this.options.uploads?.copy(
            run.app,
            target.number,
            release.number,
            this.options.liveRelease?.(run.app),
          );
          for (const image of release.images)
            log(`${image.image} is ${image.digest}`, image.service);
          log(`release r${release.number} (rollback to r${target.number}) recorded`);
          return release;
        });
        const spec = target.spec as AppSpec;
        await stage("deploy", (log) =>
          runners.deploy(
            {
              run: runs.getRun(runId) as RunRecord,
              app: run.app,
              sourceDir: workDir,
              spec,
              plan: targetPlan,
              files: this.options.releaseFiles?.load(run.app, published.number) ?? {},
              releaseNumber: published.number,
              ...(target.commit ? { commit: target.commit } : {}),
              signal,
              rollingBack,
              log,
            },
            published.number,
          ),
        );
        if (target.config && this.options.config) {
          // As Heroku does: the release that runs again brings its config
          // back, except what was changed while the rollback ran, and no
          // secret becomes a plain var again.
          const now = this.options.config.snapshot(run.app);
          this.options.config.replace(
            run.app,
            mergeRolledBackConfig({ target: target.config, before: configAtStart, now }),
          );
          events.emit({
            type: "log",
            stage: "deploy",
            text: `the app's config is r${target.number}'s again`,
          });
        }
        live.finish("succeeded", undefined, published.number);
        return;
      }
      const sourceDir = join(workDir, "src");
      mkdirSync(sourceDir);
      // The config as the run starts: what the release records and runs with.
      const config = this.options.config?.snapshot(run.app) ?? EMPTY_CONFIG;
      const { spec, plan, files, commit, fetched } = await stage("source", async (log) => {
        const fetched = await source.fetch(sourceDir, log, signal);
        if (fetched.commit) runs.setCommit(runId, fetched.commit);
        const loaded = runners.loadSpec(run.app, sourceDir, log, config);
        events.addSecrets(loaded.secrets ?? []);
        return { ...loaded, commit: fetched.commit ?? run.commit, fetched };
      });
      if (fetched.imagesOf?.config && sameConfig(fetched.imagesOf.config, config)) {
        // A push or rollback that ran before this config run took the change live already.
        live.finish(
          "superseded",
          `r${fetched.imagesOf.number} already runs with this config; nothing to roll out`,
        );
        return;
      }
      const imagesOf = fetched.imagesOf
        ? { release: fetched.imagesOf, plan: planOfRecord(fetched.imagesOf) }
        : undefined;
      const releaseNumber = runs.nextReleaseNumber(run.app);
      const ctxBase = {
        run: runs.getRun(runId) as RunRecord,
        app: run.app,
        sourceDir,
        spec,
        plan,
        files,
        releaseNumber,
        ...(commit ? { commit } : {}),
        ...(imagesOf ? { imagesOf } : {}),
        signal,
        rollingBack,
      };
      const images = await stage("build", (log) => runners.build({ ...ctxBase, log }));
      await stage("test", async (log) => {
        if (imagesOf && images.every((image) => image.reused)) {
          log(
            `a config change: every image is r${imagesOf.release.number}'s, tested when it was built`,
          );
          return "skipped" as const;
        }
        return runners.test({ ...ctxBase, log }, images);
      });
      const published = await stage("publish", async (log) => {
        const released = await runners.publish({ ...ctxBase, log }, images);
        const release = runs.createRelease({
          app: run.app,
          runId,
          ...(commit ? { commit } : {}),
          trigger: run.trigger,
          spec,
          images: released,
          status: "published",
          planJson: encodePlan(plan),
          fingerprints: releaseFingerprints(plan, released, files),
          config,
        });
        this.options.releaseFiles?.save(run.app, release.number, files);
        if (fetched.archiveFile) {
          this.options.uploads?.keep(
            run.app,
            release.number,
            fetched.archiveFile,
            this.options.liveRelease?.(run.app),
          );
        }
        log(`release r${release.number} published`);
        return release;
      });
      await stage("deploy", (log) => runners.deploy({ ...ctxBase, log }, published.number));
      live.finish("succeeded", undefined, published.number);
    } catch (error) {
      const failedStage = current;
      const cancelled = signal.aborted;
      if (!cancelled) runs.finishStage(runId, failedStage, "failed");
      events.emit({
        type: "stage",
        stage: failedStage,
        status: cancelled ? "cancelled" : "failed",
      });
      if (error instanceof StageFailure) {
        for (const line of error.details)
          events.emit({ type: "log", stage: failedStage, text: line });
      }
      const reason = cancelled
        ? `cancelled during ${failedStage}`
        : error instanceof StageFailure
          ? `${failedStage} failed: ${error.message}`
          : `${failedStage} failed with an unexpected error: ${(error as Error).message}`;
      live.finish(cancelled ? "cancelled" : "failed", reason);
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  }
}
