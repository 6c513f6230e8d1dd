import { describe, expect, it } from "vitest";
import { toEdgeAppState } from "./edge-targets.js";
import type { Replica } from "./engine.js";
import { planFrom } from "./testing/plans.js";

const plan = planFrom(
  "shop",
  `
services:
  web:
    build: .
    ports: ["8080:80"]
    x-skiff: { health: { path: /healthz } }
  worker:
    build: .
`,
);

const replica = (service: string, release: number, place: number, port?: number): Replica => ({
  id: `${service}-${release}-${place}`,
  name: `skiff-shop-${service}-r${release}-${place}-abc123`,
  app: "shop",
  service,
  release,
  replica: place,
  state: "running",
  ...(port ? { address: { host: "10.0.0.7", port } } : {}),
  onAppNetwork: true,
  createdAt: 0,
});

describe("toEdgeAppState", () => {
  it("puts each routed service's replicas at their addresses, oldest release first, admitted at once", () => {
    const state = toEdgeAppState(plan, [
      replica("web", 2, 1, 30002),
      replica("web", 1, 1, 30001),
      replica("worker", 1, 1),
    ]);
    expect(state).toEqual({
      backends: [
        {
          name: "app_shop__web",
          healthPath: "/healthz",
          healthHost: "shop.localhost",
          servers: [
            { name: "r1-1-abc123", address: { host: "10.0.0.7", port: 30001 }, checked: true },
            { name: "r2-1-abc123", address: { host: "10.0.0.7", port: 30002 }, checked: true },
          ],
        },
      ],
      domains: { "shop.localhost": "app_shop__web" },
    });
  });

  it("lets the edge check a replica a rollback started again before it gets requests", () => {
    const state = toEdgeAppState(plan, [replica("web", 1, 1, 30001)], new Set(["web-1-1"]));
    expect(state.backends[0]?.servers).toEqual([
      { name: "r1-1-abc123", address: { host: "10.0.0.7", port: 30001 } },
    ]);
  });

  it("leaves out a replica without an address (it publishes no port yet)", () => {
    expect(toEdgeAppState(plan, [replica("web", 1, 1)]).backends[0]?.servers).toEqual([]);
  });
});
