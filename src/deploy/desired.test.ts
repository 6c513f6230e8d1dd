import { describe, expect, it } from "vitest";
import { dependencyLevels, desiredState, isSteady } from "./desired.js";
import type { Replica } from "./engine.js";
import { fingerprintsOf, planFrom } from "./testing/plans.js";

const plan = planFrom(
  "shop",
  `
services:
  db:
    image: mariadb
    volumes: [data:/var/lib/mysql]
  web:
    build: .
    ports: ["8080:80"]
    deploy: { replicas: 2 }
    depends_on: [db]
  worker:
    build: .
    depends_on: [db]
  mailer:
    build: .
volumes:
  data: {}
`,
);
const now = fingerprintsOf(plan, 2);
const before = fingerprintsOf(plan, 1);

function replica(service: string, place: number, over: Partial<Replica> = {}): Replica {
  const release = over.release ?? 2;
  return {
    id: `${service}-${release}-${place}`,
    name: `skiff-shop-${service}-r${release}-${place}-abc123`,
    app: "shop",
    service,
    release,
    replica: place,
    state: "running",
    fingerprint: (release === 2 ? now : before)[service] as string,
    onAppNetwork: true,
    createdAt: release * 100 + place,
    ...over,
  };
}

/** The decision in short: per service, kept ids, places started, retired ids. */
function decide(
  current: Replica[],
  extra: { scale?: Record<string, number>; restart?: string[] } = {},
) {
  const decision = desiredState({
    plan,
    fingerprints: now,
    scale: extra.scale ?? {},
    current,
    ...(extra.restart ? { restart: extra.restart } : {}),
  });
  return {
    ...Object.fromEntries(
      decision.services.map((s) => [
        s.service.name,
        { keep: s.keep.map((r) => r.id), start: s.start, retire: s.retire.map((r) => r.id) },
      ]),
    ),
    strays: decision.strays.map((r) => r.id),
  };
}

const all2 = () => [
  replica("db", 1),
  replica("web", 1),
  replica("web", 2),
  replica("worker", 1),
  replica("mailer", 1),
];

describe("desiredState", () => {
  it("starts everything for an app with no replicas", () => {
    expect(decide([])).toEqual({
      db: { keep: [], start: [1], retire: [] },
      web: { keep: [], start: [1, 2], retire: [] },
      worker: { keep: [], start: [1], retire: [] },
      mailer: { keep: [], start: [1], retire: [] },
      strays: [],
    });
  });

  it("keeps an app that runs as planned, and calls it steady", () => {
    const decision = desiredState({ plan, fingerprints: now, scale: {}, current: all2() });
    expect(isSteady(decision)).toBe(true);
  });

  it.each([
    [
      "a changed service starts afresh; an unchanged one stays",
      [replica("db", 1), replica("web", 1, { release: 1 }), replica("web", 2, { release: 1 })],
      {
        db: { keep: ["db-2-1"], start: [], retire: [] },
        web: { keep: [], start: [1, 2], retire: ["web-1-1", "web-1-2"] },
      },
    ],
    [
      "a dead replica is replaced in its own place",
      [replica("web", 1), replica("web", 2, { state: "exited" })],
      { web: { keep: ["web-2-1"], start: [2], retire: ["web-2-2"] } },
    ],
    [
      "an unhealthy replica is replaced",
      [replica("web", 1, { health: "unhealthy" }), replica("web", 2)],
      { web: { keep: ["web-2-2"], start: [1], retire: ["web-2-1"] } },
    ],
    [
      "one too many: the newest goes",
      [replica("web", 1), replica("web", 2), replica("web", 3)],
      { web: { keep: ["web-2-1", "web-2-2"], start: [], retire: ["web-2-3"] } },
    ],
    [
      "a replica off the app's network (an older Skiff's) does not count",
      [replica("web", 1, { onAppNetwork: false }), replica("web", 2)],
      { web: { keep: ["web-2-2"], start: [1], retire: ["web-2-1"] } },
    ],
    [
      "a replica without a fingerprint is replaced",
      [replica("web", 1, { fingerprint: undefined }), replica("web", 2)],
      { web: { keep: ["web-2-2"], start: [1], retire: ["web-2-1"] } },
    ],
    [
      "a created (never started) replica is debris",
      [replica("db", 1, { state: "created" })],
      { db: { keep: [], start: [1], retire: ["db-2-1"] } },
    ],
  ])("%s", (_name, current, expected) => {
    expect(decide(current)).toMatchObject(expected);
  });

  it("follows the scale overrides, down to zero", () => {
    expect(decide(all2(), { scale: { web: 3, worker: 0 } })).toMatchObject({
      web: { keep: ["web-2-1", "web-2-2"], start: [3], retire: [] },
      worker: { keep: [], start: [], retire: ["worker-2-1"] },
    });
  });

  it("replaces every replica of the services a restart names, and leaves the others as they are", () => {
    const crashed = [
      ...all2().filter((r) => r.service !== "worker"),
      replica("worker", 1, { state: "exited" }),
    ];
    expect(decide(crashed, { restart: ["web"] })).toMatchObject({
      db: { keep: ["db-2-1"], start: [], retire: [] },
      web: { keep: [], start: [1, 2], retire: ["web-2-1", "web-2-2"] },
      // Not restarted, not repaired either: that is the reconciler's, with its backoff.
      worker: { keep: ["worker-2-1"], start: [], retire: [] },
    });
  });

  it("retires replicas of services the plan no longer has", () => {
    expect(decide([...all2(), replica("cron", 1)]).strays).toEqual(["cron-2-1"]);
  });
});

describe("dependencyLevels", () => {
  it("groups services that do not depend on each other, dependencies first", () => {
    expect(dependencyLevels(plan.services).map((level) => level.map((s) => s.name))).toEqual([
      ["db", "mailer"],
      ["web", "worker"],
    ]);
  });

  it("puts a chain one service per level", () => {
    const chain = planFrom(
      "chain",
      `
services:
  a: { image: a }
  b: { image: b, depends_on: [a] }
  c: { image: c, depends_on: [b] }
`,
    );
    expect(dependencyLevels(chain.services).map((level) => level.map((s) => s.name))).toEqual([
      ["a"],
      ["b"],
      ["c"],
    ]);
  });
});
