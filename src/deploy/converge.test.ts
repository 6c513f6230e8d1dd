import { describe, expect, it } from "vitest";
import { backendName } from "../edge/domain-map.js";
import { ALWAYS_START, converge } from "./converge.js";
import { toEdgeAppState } from "./edge-targets.js";
import { edgeServerName, type Replica } from "./engine.js";
import { MemoryEdge } from "./testing/memory-edge.js";
import { MemoryEngine, summary } from "./testing/memory-engine.js";
import { digestsOf, fingerprintsOf, planFrom } from "./testing/plans.js";

const APP = "shop";
const SPEC = `
services:
  web:
    build: .
    ports: ["8080:80"]
    deploy: { replicas: 2 }
    x-skiff: { health: { path: /healthz } }
`;

describe("converge", () => {
  it("checks over HTTP only the replicas the edge does not see up, and replaces those that fail", async () => {
    const plan = planFrom(APP, SPEC);
    const release = {
      app: APP,
      number: 1,
      plan,
      images: digestsOf(plan, 1),
      fingerprints: fingerprintsOf(plan, 1),
    };
    const engine = new MemoryEngine();
    const edge = new MemoryEdge();
    const web = plan.services[0];
    if (!web) throw new Error("no web service");
    const running = await engine.start(
      APP,
      [1, 2].map((replica) => ({
        service: web,
        release: 1,
        replica,
        image: "web@sha256:web-1",
        fingerprint: release.fingerprints.web as string,
      })),
      { log: () => {} },
    );
    await edge.setApp(APP, toEdgeAppState(plan, running));
    const [up, down] = running as [Replica, Replica];
    edge.down.add(`${backendName(APP, "web")}/${edgeServerName(down)}`);

    const asked: string[] = [];
    await converge(
      {
        engine,
        edge,
        retire: (replicas) => {
          for (const r of replicas) void engine.remove(r);
        },
        untilRetired: async () => {},
        httpUnhealthy: async (_plan, replicas) => {
          asked.push(...replicas.map((r) => r.id));
          return new Set(replicas.map((r) => r.id));
        },
      },
      {
        app: APP,
        release,
        scale: {},
        current: await engine.list(APP),
        files: () => ({}),
        policy: ALWAYS_START,
        log: () => {},
      },
    );

    expect(asked).toEqual([down.id]);
    const after = await engine.list(APP);
    expect(after.map((r) => r.id)).toContain(up.id);
    expect(after.map((r) => r.id)).not.toContain(down.id);
    expect(await summary(engine, APP)).toEqual(["web r1#1 running", "web r1#2 running"]);
  });
});
