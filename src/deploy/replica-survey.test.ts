import { describe, expect, it } from "vitest";
import type { Replica } from "./engine.js";
import { ReplicaSurvey } from "./replica-survey.js";

const replica = (app: string, id: string) => ({ app, id }) as Replica;

describe("ReplicaSurvey", () => {
  it("groups one listing by app, with the deployed apps that have no replica", () => {
    const survey = new ReplicaSurvey(
      ["wiki"],
      [replica("shop", "a"), replica("blog", "b"), replica("shop", "c")],
      new Map(),
      () => 0,
    );
    expect(survey.apps()).toEqual(["blog", "shop", "wiki"]);
    expect(survey.replicas("shop")?.map((r) => r.id)).toEqual(["a", "c"]);
    expect(survey.replicas("wiki")).toEqual([]);
  });

  it("is stale for an app the deployer changed after the listing", () => {
    const changes = new Map([["shop", 3]]);
    const survey = new ReplicaSurvey(
      [],
      [replica("shop", "a"), replica("blog", "b")],
      new Map(changes),
      (app) => changes.get(app) ?? 0,
    );
    changes.set("shop", 4);
    expect(survey.replicas("shop")).toBeUndefined();
    expect(survey.replicas("blog")?.map((r) => r.id)).toEqual(["b"]);
  });
});
