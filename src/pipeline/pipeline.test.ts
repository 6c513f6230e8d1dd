import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Sealer } from "../secrets/sealer.js";
import type { AppSpec, Plan } from "../spec/index.js";
import { ConfigStore } from "../state/app-config.js";
import { openDatabase } from "../state/database.js";
import { RunStore } from "../state/runs.js";
import { Store } from "../state/store.js";
import { Pipeline, type SourceProvider, StageFailure, type StageRunners } from "./pipeline.js";
import { type RunEvent, readJournal, readStageLog, runDir } from "./run-events.js";

const spec = { file: "compose.yaml", services: {}, volumes: [], tests: [] } as unknown as AppSpec;
const plan = { app: "shop", services: [], tests: [], volumes: [] } as Plan;

/** Stage runners that log and succeed, unless a test replaces one. */
function runners(overrides: Partial<StageRunners> = {}): StageRunners {
  return {
    loadSpec: (_app, _dir, log) => {
      log("spec ok");
      return { spec, plan, files: {} };
    },
    build: async (ctx) => {
      ctx.log("Step 1/1 : RUN true", "web");
      return [{ service: "web", repository: "127.0.0.1:5000/shop/web", tags: ["r1"] }];
    },
    test: async () => "none",
    publish: async () => [
      { service: "web", image: "127.0.0.1:5000/shop/web:r1", digest: "sha256:abc" },
    ],
    deploy: async () => "skipped",
    ...overrides,
  };
}

const source = (commit = "0123456789abcdef"): SourceProvider => ({
  fetch: async (dir, log) => {
    writeFileSync(join(dir, "compose.yaml"), "services: {}\n");
    log(`checked out ${commit.slice(0, 12)}`);
    return { commit };
  },
});

describe("Pipeline", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  function setup(stageRunners: StageRunners, concurrency = 2) {
    const root = mkdtempSync(join(tmpdir(), "skiff-pipeline-"));
    dirs.push(root);
    const db = openDatabase(":memory:");
    new Store(db).createApp("shop");
    const runs = new RunStore(db);
    const config = new ConfigStore(db, new Sealer(randomBytes(32)));
    const pipeline = new Pipeline({
      runs,
      runners: stageRunners,
      runsRoot: join(root, "runs"),
      workRoot: join(root, "work"),
      config,
      concurrency,
    });
    return { root, runs, config, pipeline };
  }

  it("runs every stage, records the release and journals each event and stage log", async () => {
    const { root, runs, pipeline } = setup(runners());
    const submitted = pipeline.submit(
      "shop",
      { kind: "git-push", ref: "refs/heads/main" },
      source(),
    );
    const summary = (e: RunEvent) =>
      e.type === "log" ? e.text : `${e.type}:${"stage" in e ? `${e.stage}:` : ""}${e.status}`;
    const live: string[] = [];
    submitted.events.subscribe((e) => live.push(summary(e)));
    const run = await submitted.finished;

    expect(run).toMatchObject({
      status: "succeeded",
      commit: "0123456789abcdef",
      releaseNumber: 1,
    });
    expect(run.stages.map((s) => `${s.name}:${s.status}`)).toEqual([
      "source:succeeded",
      "build:succeeded",
      "test:skipped",
      "publish:succeeded",
      "deploy:skipped",
    ]);
    expect(run.stages.every((s) => s.startedAt && s.finishedAt && s.durationMs !== undefined)).toBe(
      true,
    );
    expect(runs.listReleases("shop")).toMatchObject([
      {
        number: 1,
        commit: "0123456789abcdef",
        status: "published",
        images: [{ service: "web", digest: "sha256:abc" }],
      },
    ]);
    expect(live).toContain("Step 1/1 : RUN true");
    expect(live.at(-1)).toBe("run:succeeded");
    const dir = runDir(join(root, "runs"), "shop", 1);
    // The journal holds everything from the start, numbered without gaps; a late
    // subscriber saw its tail.
    const journal = readJournal(dir);
    expect(journal.map((e) => e.seq)).toEqual(journal.map((_, i) => i + 1));
    expect(journal[0]).toMatchObject({ type: "run", status: "queued" });
    expect(journal.slice(-live.length).map(summary)).toEqual(live);
    expect(readStageLog(dir, "build")).toBe("[web] Step 1/1 : RUN true\n");
    expect(readStageLog(dir, "publish")).toBe("release r1 published\n");
  });

  it("fails at the broken stage with its reason and skips the rest, publishing nothing", async () => {
    const { root, runs, pipeline } = setup(
      runners({
        build: async () => {
          throw new StageFailure("web: step [2/3] RUN npm ci exited with 1", [
            "npm ERR! missing script",
          ]);
        },
      }),
    );
    const run = await pipeline.submit("shop", { kind: "upload" }, source()).finished;
    expect(run.status).toBe("failed");
    expect(run.reason).toBe("build failed: web: step [2/3] RUN npm ci exited with 1");
    expect(run.stages.map((s) => s.status)).toEqual([
      "succeeded",
      "failed",
      "skipped",
      "skipped",
      "skipped",
    ]);
    expect(runs.listReleases("shop")).toEqual([]);
    expect(readStageLog(runDir(join(root, "runs"), "shop", 1), "build")).toContain(
      "npm ERR! missing script",
    );
  });

  it("shows rolling-back while a failed deploy is undone, then failed", async () => {
    let statusWhileUndoing: string | undefined;
    const { root, runs, pipeline } = setup(
      runners({
        deploy: async (ctx) => {
          ctx.rollingBack();
          statusWhileUndoing = runs.getRun(ctx.run.id)?.status;
          throw new StageFailure("replica 1 of r1: GET / → HTTP 500");
        },
      }),
    );
    const run = await pipeline.submit("shop", { kind: "upload" }, source()).finished;
    expect(statusWhileUndoing).toBe("rolling-back");
    expect(run.status).toBe("failed");
    const statuses = readJournal(runDir(join(root, "runs"), "shop", 1))
      .filter((e): e is Extract<RunEvent, { type: "run" }> => e.type === "run")
      .map((e) => e.status);
    expect(statuses).toEqual(["queued", "running", "rolling-back", "failed"]);
  });

  it("supersedes a queued run when a newer one arrives, and runs the newest", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { pipeline } = setup(
      runners({
        build: async (ctx) => {
          if (ctx.run.number === 1) await gate;
          return [];
        },
      }),
    );
    const first = pipeline.submit("shop", { kind: "git-push" }, source("1111"));
    const second = pipeline.submit("shop", { kind: "git-push" }, source("2222"));
    const third = pipeline.submit("shop", { kind: "git-push" }, source("3333"));
    expect((await second.finished).status).toBe("superseded");
    expect((await second.finished).reason).toBe("superseded by run 3, a newer run of shop");
    release();
    expect((await first.finished).status).toBe("succeeded");
    expect(await third.finished).toMatchObject({ status: "succeeded", commit: "3333" });
  });

  it("cancels a running run through its abort signal", async () => {
    const { pipeline } = setup(
      runners({
        build: (ctx) =>
          new Promise((_, reject) =>
            ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)),
          ),
      }),
    );
    const submitted = pipeline.submit("shop", { kind: "git-push" }, source());
    await new Promise((resolve) =>
      submitted.events.subscribe((e) => e.type === "stage" && e.stage === "build" && resolve(e)),
    );
    expect(pipeline.cancel(submitted.run.id)).toBe(true);
    const run = await submitted.finished;
    expect(run).toMatchObject({ status: "cancelled", reason: "cancelled during build" });
    expect(run.stages.map((s) => s.status)).toEqual([
      "succeeded",
      "cancelled",
      "cancelled",
      "cancelled",
      "cancelled",
    ]);
    expect(pipeline.cancel(submitted.run.id)).toBe(false);
  });

  it("marks runs left unfinished by a stopped server as interrupted", () => {
    const { runs } = setup(runners());
    const a = runs.createRun("shop", { kind: "git-push" });
    const b = runs.createRun("shop", { kind: "git-push" });
    runs.startRun(a.id);
    runs.startStage(a.id, "source");
    expect(runs.interruptUnfinished("the server stopped").map((r) => r.status)).toEqual([
      "interrupted",
      "interrupted",
    ]);
    expect(runs.getRun(a.id)?.stages[0]?.status).toBe("cancelled");
    expect(runs.getRun(b.id)?.reason).toBe("the server stopped");
  });

  it("makes a release with the config as the run started, and a rollback brings that config back", async () => {
    const seen: unknown[] = [];
    const { runs, config, pipeline } = setup(
      runners({
        loadSpec: (_app, _dir, _log, snapshot) => {
          seen.push(snapshot);
          return { spec, plan, files: {} };
        },
      }),
    );
    config.set("shop", { GREETING: "one" });
    config.set("shop", { ROOT: "pw" }, "db");
    await pipeline.submit("shop", { kind: "git-push" }, source()).finished;
    config.set("shop", { GREETING: "two" });
    await pipeline.submit("shop", { kind: "git-push" }, source()).finished;
    expect(seen).toEqual([
      { app: { GREETING: "one" }, services: { db: { ROOT: "pw" } } },
      { app: { GREETING: "two" }, services: { db: { ROOT: "pw" } } },
    ]);
    expect(runs.getReleaseByNumber("shop", 2)?.config?.app).toEqual({ GREETING: "two" });
    config.unset("shop", ["ROOT"], "db");

    const first = runs.getReleaseByNumber("shop", 1) as NonNullable<
      ReturnType<typeof runs.getReleaseByNumber>
    >;
    const rollback = pipeline.submit("shop", { kind: "rollback" }, { rollbackTo: first });
    const lines: string[] = [];
    rollback.events.subscribe((e) => e.type === "log" && lines.push(e.text));
    expect((await rollback.finished).status).toBe("succeeded");
    expect(config.snapshot("shop")).toEqual({
      app: { GREETING: "one" },
      services: { db: { ROOT: "pw" } },
    });
    expect(runs.getReleaseByNumber("shop", 3)?.config?.app).toEqual({ GREETING: "one" });
    expect(lines).toContain("the app's config is r1's again");
  });

  it("a rollback whose deploy fails leaves the config as it is", async () => {
    const { runs, config, pipeline } = setup(
      runners({
        deploy: async () => {
          throw new StageFailure("replica 1 never became healthy");
        },
      }),
    );
    config.set("shop", { GREETING: "one" });
    await pipeline.submit("shop", { kind: "git-push" }, source()).finished;
    config.set("shop", { GREETING: "two" });
    const first = runs.getReleaseByNumber("shop", 1) as NonNullable<
      ReturnType<typeof runs.getReleaseByNumber>
    >;
    const run = await pipeline.submit("shop", { kind: "rollback" }, { rollbackTo: first }).finished;
    expect(run.status).toBe("failed");
    expect(config.snapshot("shop").app).toEqual({ GREETING: "two" });
  });

  it("a config change whose images are all the live release's skips the tests", async () => {
    let tested = 0;
    const reused = { digest: "sha256:abc", image: "127.0.0.1:5000/shop/web:r1", release: 1 };
    const { runs, config, pipeline } = setup(
      runners({
        build: async () => [
          { service: "web", repository: "127.0.0.1:5000/shop/web", tags: ["r2"], reused },
        ],
        test: async () => {
          tested++;
          return "passed";
        },
      }),
    );
    await pipeline.submit("shop", { kind: "git-push" }, source()).finished;
    expect(tested).toBe(1);
    const live = runs.getReleaseByNumber("shop", 1) as NonNullable<
      ReturnType<typeof runs.getReleaseByNumber>
    >;
    const fromLive = { fetch: async () => ({ commit: "0123456789abcdef", imagesOf: live }) };
    // Nothing changed since r1: the config run ends at once.
    const idle = await pipeline.submit("shop", { kind: "config" }, fromLive).finished;
    expect(idle).toMatchObject({
      status: "superseded",
      reason: "r1 already runs with this config; nothing to roll out",
    });
    config.set("shop", { GREETING: "new" });
    const run = await pipeline.submit("shop", { kind: "config" }, fromLive).finished;
    expect(run.status).toBe("succeeded");
    expect(run.stages.find((s) => s.name === "test")?.status).toBe("skipped");
    expect(tested).toBe(1);
    expect(runs.getReleaseByNumber("shop", 2)?.config?.app).toEqual({ GREETING: "new" });
  });

  it("scrubs secret config vars and the spec's Compose secrets from every event, stage log and reason", async () => {
    const secret = "s3cr3t-config-value";
    const fileSecret = "compose-file-secret";
    const { root, runs, config, pipeline } = setup(
      runners({
        loadSpec: () => ({
          spec,
          plan,
          files: {},
          secrets: [{ name: "db_password", value: fileSecret }],
        }),
        build: async (ctx) => {
          ctx.log(`echo ${secret} | base64: ${Buffer.from(secret).toString("base64")}`, "web");
          ctx.log(`read ${fileSecret}`, "web");
          throw new StageFailure(`the build printed ${secret}`, [`detail ${fileSecret}`]);
        },
      }),
    );
    config.set("shop", { DB_PASSWORD: secret }, "", { secret: true });
    const run = await pipeline.submit("shop", { kind: "git-push" }, source()).finished;
    expect(run.status).toBe("failed");
    expect(run.reason).toBe("build failed: the build printed [secret DB_PASSWORD]");
    const dir = runDir(join(root, "runs"), "shop", run.number);
    const everything = [
      readFileSync(join(dir, "events.jsonl"), "utf8"),
      readStageLog(dir, "build"),
      JSON.stringify(runs.getRun(run.id)),
    ].join("\n");
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(Buffer.from(secret).toString("base64"));
    expect(everything).not.toContain(fileSecret);
    expect(readStageLog(dir, "build")).toContain("[web] read [secret db_password]");
  });
});
