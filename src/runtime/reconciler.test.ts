import { describe, expect, it } from "vitest";
import { MAX_START_BACKOFF_MS, Reconciler, START_BACKOFF_MS } from "./reconciler.js";

function reconcilerWith(apps: string[], busy: string[] = []) {
  const reconciled: string[] = [];
  let now = 1_000;
  const reconciler = new Reconciler({
    engine: { watch: () => ({ stop() {} }) },
    deployer: {
      apps: async () => apps,
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
