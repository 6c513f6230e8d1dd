import { describe, expect, it } from "vitest";
import { ReplicaSurvey } from "../deploy/replica-survey.js";
import { MAX_START_BACKOFF_MS, Reconciler, START_BACKOFF_MS } from "./reconciler.js";

function reconcilerWith(apps: string[], busy: string[] = []) {
  const reconciled: string[] = [];
  let now = 1_000;
  const reconciler = new Reconciler({
    engine: { watch: () => ({ stop() {} }) },
    deployer: {
      survey: async () => new ReplicaSurvey(apps, [], new Map(), () => 0),
      busy: (app) => busy.includes(app),
      reconcile: async (app) => {
        reconciled.push(app);
        now += 5;
      },
    },
    now: () => now,
  });
  return { reconciler, reconciled, advance: (ms: number) => (now += ms) };
}

describe("Reconciler", () => {
  it("passes over every app but the busy ones, and reports the pass", async () => {
    const { reconciler, reconciled } = reconcilerWith(["blog", "shop", "wiki"], ["shop"]);
    expect(reconciler.lastPass()).toBeUndefined();
    await reconciler.pass();
    expect(reconciled).toEqual(["blog", "wiki"]);
    expect(reconciler.lastPass()).toMatchObject({ apps: 3, durationMs: 10 });
  });

  it("reconciles a few apps at a time, each from the pass's one listing", async () => {
    const apps = Array.from({ length: 10 }, (_, i) => `app${i}`);
    let running = 0;
    let most = 0;
    const surveys = new Set<unknown>();
    const listing = new ReplicaSurvey(apps, [], new Map(), () => 0);
    const reconciler = new Reconciler({
      engine: { watch: () => ({ stop() {} }) },
      deployer: {
        survey: async () => listing,
        busy: () => false,
        reconcile: async (_app, _log, _policy, survey) => {
          surveys.add(survey);
          running++;
          most = Math.max(most, running);
          await new Promise((resolve) => setTimeout(resolve, 5));
          running--;
        },
      },
    });
    await reconciler.pass();
    expect(most).toBe(4);
    expect([...surveys]).toEqual([listing]);
    expect(reconciler.lastPass()).toMatchObject({ apps: 10 });
  });

  it("waits longer after each failed start of a service, per release, up to the maximum", () => {
    const { reconciler, advance } = reconcilerWith([]);
    const { policy } = reconciler;
    expect(policy.mayStart("shop", "web", 2)).toBe(true);
    expect(policy.failed("shop", "web", 2)).toBe(`next try in ${START_BACKOFF_MS / 1000} s`);
    expect(policy.mayStart("shop", "web", 2)).toBe(false);
    // Another service and the next release try at once.
    expect(policy.mayStart("shop", "worker", 2)).toBe(true);
    expect(policy.mayStart("shop", "web", 3)).toBe(true);
    advance(START_BACKOFF_MS);
    expect(policy.mayStart("shop", "web", 2)).toBe(true);
    expect(policy.failed("shop", "web", 2)).toBe(`next try in ${(2 * START_BACKOFF_MS) / 1000} s`);
    for (let i = 0; i < 10; i++) policy.failed("shop", "web", 2);
    expect(policy.failed("shop", "web", 2)).toBe(`next try in ${MAX_START_BACKOFF_MS / 1000} s`);
    policy.started("shop", "web", 2);
    expect(policy.mayStart("shop", "web", 2)).toBe(true);
  });
});
