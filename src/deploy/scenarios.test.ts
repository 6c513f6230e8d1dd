// The whole deploy flow (Deployer → desired state → rollout or converge)
// against in-memory fakes of the Engine and the Edge, on a real migrated
// SQLite store. Each scenario in scenarios/ is data: the releases, what the
// engine does, the actions, and the steps and final state expected. The same
// behaviour is proven against Docker and HAProxy by the tests in test/.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { Reconciler } from "../runtime/reconciler.js";
import { type AppSpec, parseSpec } from "../spec/index.js";
import { encodePlan } from "../spec/plan-codec.js";
import { openDatabase } from "../state/database.js";
import { DeploymentStore } from "../state/deployments.js";
import { RunStore } from "../state/runs.js";
import { Store } from "../state/store.js";
import { Deployer, type DeployFailure } from "./deployer.js";
import { releaseFingerprints } from "./fingerprint.js";
import { ReleaseReader } from "./release.js";
import type { ReplicaSurvey } from "./replica-survey.js";
import { MemoryEdge } from "./testing/memory-edge.js";
import { MemoryEngine, type StartOutcome, summary } from "./testing/memory-engine.js";
import { planFrom } from "./testing/plans.js";

const APP = "shop";
const DIR = join(fileURLToPath(new URL(".", import.meta.url)), "scenarios");

type Action =
  | { deploy: number; cancelAt?: string }
  | { scale: Record<string, number> }
  | { restart: string | null }
  | { crash: string }
  | { outcomes: Record<string, StartOutcome> }
  | { edgeFails: string }
  | "forgetFingerprints"
  | "reconcile"
  /** A whole reconciler pass over every app, from one listing. */
  | "pass"
  /** Lists every replica now, as a pass does first, for a later reconcileFromSurvey. */
  | "survey"
  /** Reconciles with the replicas the last survey listed (a pass that reached the app later). */
  | "reconcileFromSurvey"
  | "forget";

interface Scenario {
  description: string;
  /**
   * Release 1, 2, …: a compose.yaml (every service's image changes unless
   * `changed` says which), or only `changed`: the previous spec with these
   * services' images changed. `legacy`: recorded as an older Skiff did,
   * without its plan and fingerprints.
   */
  releases: { spec?: string; changed?: string[]; legacy?: boolean }[];
  /** Deployed before the scenario (its steps are not part of the expected ones). */
  live?: number;
  outcomes?: Record<string, StartOutcome>;
  /** Replicas ("db r2") whose removal the engine refuses, once each. */
  removeFails?: string[];
  do: Action[];
  expect: {
    /** In order; a list inside the list is a group of steps that happen at the same time, in any order. */
    steps: (string | string[])[];
    replicas: string[];
    edge?: string;
    live?: number;
    /** The error of the last action, if it failed. */
    error?: string;
    logTail?: string[];
    log?: string[];
    rolledBack?: boolean;
    /** Releases whose fingerprints are stored afterwards (a legacy one's are written back when read). */
    fingerprintsStored?: number[];
  };
}

const files = readdirSync(DIR)
  .filter((f) => f.endsWith(".yaml"))
  .sort();

describe("deploy scenarios", () => {
  let close: (() => void) | undefined;
  afterEach(() => close?.());

  it.each(files)("%s", async (file) => {
    const scenario = parse(readFileSync(join(DIR, file), "utf8")) as Scenario;
    const db = openDatabase(":memory:");
    close = () => db.close();
    const store = new Store(db);
    store.createApp(APP);
    const runs = new RunStore(db);
    const deployments = new DeploymentStore(db);
    recordReleases(runs, scenario.releases);
    const steps: string[] = [];
    const engine = new MemoryEngine(steps);
    const edge = new MemoryEdge(steps);
    const deployer = new Deployer({
      engine,
      edge,
      releases: new ReleaseReader(runs),
      deployments,
      // Nothing real starts, so nothing needs to settle before old replicas stop.
      settleMs: 0,
      // The fake replicas answer no HTTP; a scenario crashes them instead.
      httpUnhealthy: async () => new Set(),
    });
    let now = 0;
    const log: string[] = [];
    const reconciler = new Reconciler({
      engine,
      deployer,
      now: () => now,
      log: (line) => log.push(line),
    });
    if (scenario.live !== undefined) {
      await deployer.deploy(APP, scenario.live, () => {});
      await deployer.retired();
    }
    steps.length = 0;
    engine.outcomes = scenario.outcomes ?? {};
    engine.removeFails = scenario.removeFails ?? [];
    log.length = 0;
    const say = (text: string, service?: string) =>
      log.push(service ? `${service}: ${text}` : text);
    let error: Error | undefined;
    let rolledBack = false;
    let survey: ReplicaSurvey | undefined;
    for (const action of scenario.do) {
      error = undefined;
      try {
        if (action === "reconcile") {
          await reconciler.reconcile(APP);
          now += 1_000;
        } else if (action === "pass") {
          await reconciler.pass();
          now += 1_000;
        } else if (action === "survey") {
          survey = await deployer.survey();
        } else if (action === "reconcileFromSurvey") {
          await reconciler.reconcile(APP, survey);
          now += 1_000;
        } else if (action === "forget") {
          await deployer.forget(APP);
        } else if (action === "forgetFingerprints") {
          engine.forgetFingerprints();
        } else if ("deploy" in action) {
          const cancel = new AbortController();
          engine.onStep = (step) => {
            if (step === action.cancelAt) cancel.abort(new Error("the run was cancelled"));
          };
          await deployer.deploy(APP, action.deploy, say, {
            signal: cancel.signal,
            onRollingBack: () => {
              rolledBack = true;
            },
          });
        } else if ("scale" in action) {
          await deployer.scale(APP, action.scale, say);
        } else if ("restart" in action) {
          await deployer.restart(APP, action.restart ?? undefined, say);
        } else if ("crash" in action) {
          const [service, place] = action.crash.split("#");
          engine.crash(APP, service as string, Number(place));
        } else if ("outcomes" in action) {
          engine.outcomes = action.outcomes;
        } else if ("edgeFails" in action) {
          edge.failNext = action.edgeFails;
        }
      } catch (caught) {
        error = caught as Error;
      }
      await deployer.retired();
    }
    const { expect: want } = scenario;
    if (process.env.SKIFF_PRINT_SCENARIOS) {
      console.log(
        JSON.stringify({
          file,
          steps,
          replicas: await summary(engine, APP),
          edge: edge.describe(APP) ?? "none",
          live: deployments.desired(APP).release,
          error: error?.message,
          log,
        }),
      );
    }
    expect(inExpectedOrder(steps, want.steps)).toEqual(want.steps);
    expect(await summary(engine, APP)).toEqual([...want.replicas].sort());
    if (want.edge !== undefined) expect(edge.describe(APP) ?? "none").toBe(want.edge);
    expect(deployments.desired(APP).release).toBe(want.live);
    expect(error?.message).toBe(want.error);
    if (want.logTail) expect((error as DeployFailure).logTail).toEqual(want.logTail);
    for (const line of want.log ?? []) expect(log).toContain(line);
    expect(rolledBack).toBe(want.rolledBack ?? false);
    for (const number of want.fingerprintsStored ?? []) {
      expect(runs.getReleaseByNumber(APP, number)?.fingerprints).toBeDefined();
    }
  });
});

/**
 * The actual steps shaped like the expected ones: for each group of n
 * expected steps, the next n actual ones, sorted as the group is, so steps
 * that run at the same time may come in any order within their group but
 * never cross into another.
 */
function inExpectedOrder(actual: string[], expected: (string | string[])[]): (string | string[])[] {
  const shaped: (string | string[])[] = [];
  let at = 0;
  for (const step of expected) {
    if (typeof step === "string") {
      shaped.push(actual[at++] ?? "(no step)");
      continue;
    }
    const group = actual.slice(at, at + step.length);
    at += step.length;
    const order = (s: string) => (step.includes(s) ? step.indexOf(s) : step.length);
    shaped.push([...group].sort((a, b) => order(a) - order(b)));
  }
  return [...shaped, ...actual.slice(at)];
}

/** Records the scenario's releases as the pipeline does: plan, images and fingerprints. */
function recordReleases(runs: RunStore, releases: Scenario["releases"]): void {
  let spec = "";
  let digests: Record<string, string> = {};
  for (const [index, release] of releases.entries()) {
    const number = index + 1;
    if (release.spec !== undefined) spec = release.spec;
    const plan = planFrom(APP, spec);
    const changed = release.changed ?? plan.services.map((s) => s.name);
    digests = Object.fromEntries(
      plan.services.map((s) => [
        s.name,
        changed.includes(s.name) || !digests[s.name]
          ? `sha256:${s.name}-${number}`
          : digests[s.name],
      ]),
    ) as Record<string, string>;
    const images = plan.services.map((s) => ({
      service: s.name,
      image: `127.0.0.1:5000/${APP}/${s.name}:r${number}`,
      digest: digests[s.name] as string,
    }));
    runs.createRelease({
      app: APP,
      runId: runs.createRun(APP, { kind: "git-push" }).id,
      trigger: "git-push",
      spec: specFrom(spec),
      images,
      status: "published",
      ...(release.legacy
        ? {}
        : { planJson: encodePlan(plan), fingerprints: releaseFingerprints(plan, images, {}) }),
    });
  }
}

function specFrom(text: string): AppSpec {
  const result = parseSpec(text, { fileName: "compose.yaml" });
  if (!result.ok) throw new Error("invalid scenario spec");
  return result.spec;
}
