import { describe, expect, it } from "vitest";
import { type ActualEdge, type EdgePlan, isEmptyPlan, planEdgeChanges } from "./edge-plan.js";
import type { EdgeBackendSpec, EdgeSnapshot } from "./edge-state.js";
import type { ServerState } from "./runtime-state.js";

const MAP = "/srv/skiff/edge/domains.map";

function backend(name: string, servers: EdgeBackendSpec["servers"]): EdgeBackendSpec {
  return { name, healthPath: "/healthz", servers };
}

/** A server as `show servers state` shows one that is up, ready, weight 1. */
function running(backendName: string, name: string, port: number, over: Partial<ServerState> = {}) {
  return {
    backend: backendName,
    name,
    addr: "127.0.0.1",
    port,
    opState: 2,
    adminMask: 0,
    weight: 1,
    checkResult: 3,
    ...over,
  };
}

function desired(backends: EdgeBackendSpec[], domains: [string, string][] = []): EdgeSnapshot {
  return { backends, domains: new Map(domains) };
}

function actual(
  backends: string[],
  servers: ServerState[] = [],
  domains: [string, string][] = [],
): ActualEdge {
  return { backends, servers, domains: new Map(domains) };
}

const SHOP = "app_shop__web";
const BLOG = "app_blog__web";

describe("planEdgeChanges", () => {
  const cases: { case: string; desired: EdgeSnapshot; actual: ActualEdge; plan: EdgePlan }[] = [
    {
      case: "nothing differs",
      desired: desired(
        [backend(SHOP, [{ name: "r1-1", address: { host: "127.0.0.1", port: 4001 } }])],
        [["shop.localhost", SHOP]],
      ),
      actual: actual([SHOP], [running(SHOP, "r1-1", 4001)], [["shop.localhost", SHOP]]),
      plan: { backends: [], maps: [] },
    },
    {
      case: "a new replica Skiff has not checked: created at weight 0 with checks on, admitted once HAProxy's check passed",
      desired: desired([
        backend(SHOP, [
          { name: "r1-1", address: { host: "127.0.0.1", port: 4001 } },
          { name: "r2-1", address: { host: "127.0.0.1", port: 4002 } },
        ]),
      ]),
      actual: actual([SHOP], [running(SHOP, "r1-1", 4001)]),
      plan: {
        backends: [
          {
            backend: SHOP,
            add: [
              {
                backend: SHOP,
                server: { name: "r2-1", address: { host: "127.0.0.1", port: 4002 } },
                create: [
                  `add server ${SHOP}/r2-1 127.0.0.1:4002 check inter 1s fastinter 100ms downinter 100ms fall 2 rise 2 pool-max-conn -1 pool-purge-delay 5s weight 0`,
                  `enable health ${SHOP}/r2-1`,
                  `enable server ${SHOP}/r2-1`,
                ],
                waitForCheck: true,
                admit: [`set server ${SHOP}/r2-1 weight 1`],
              },
            ],
            update: [],
            remove: [],
          },
        ],
        maps: [],
      },
    },
    {
      case: "a new replica Skiff checked: admitted at once, its check state forced up, HAProxy's checks on",
      desired: desired([
        backend(SHOP, [
          { name: "r1-1", address: { host: "127.0.0.1", port: 4001 } },
          { name: "r2-1", address: { host: "127.0.0.1", port: 4002 }, checked: true },
        ]),
      ]),
      actual: actual([SHOP], [running(SHOP, "r1-1", 4001)]),
      plan: {
        backends: [
          {
            backend: SHOP,
            add: [
              {
                backend: SHOP,
                server: { name: "r2-1", address: { host: "127.0.0.1", port: 4002 }, checked: true },
                create: [
                  `add server ${SHOP}/r2-1 127.0.0.1:4002 check inter 1s fastinter 100ms downinter 100ms fall 2 rise 2 pool-max-conn -1 pool-purge-delay 5s weight 0`,
                  `enable health ${SHOP}/r2-1`,
                  `enable server ${SHOP}/r2-1`,
                ],
                waitForCheck: false,
                admit: [`set server ${SHOP}/r2-1 health up`, `set server ${SHOP}/r2-1 weight 1`],
              },
            ],
            update: [],
            remove: [],
          },
        ],
        maps: [],
      },
    },
    {
      case: "a replica an apply that failed left at weight 0: admitted only once HAProxy's check passed, as a new one",
      desired: desired([
        backend(SHOP, [
          { name: "r1-1", address: { host: "127.0.0.1", port: 4001 } },
          { name: "r2-1", address: { host: "127.0.0.1", port: 4002 } },
        ]),
      ]),
      actual: actual(
        [SHOP],
        [running(SHOP, "r1-1", 4001), running(SHOP, "r2-1", 4002, { weight: 0, opState: 0 })],
      ),
      plan: {
        backends: [
          {
            backend: SHOP,
            add: [
              {
                backend: SHOP,
                server: { name: "r2-1", address: { host: "127.0.0.1", port: 4002 } },
                create: [],
                waitForCheck: true,
                admit: [`set server ${SHOP}/r2-1 weight 1`],
              },
            ],
            update: [],
            remove: [],
          },
        ],
        maps: [],
      },
    },
    {
      case: "a replica Skiff checked that the edge already has: nothing to do",
      desired: desired([
        backend(SHOP, [
          { name: "r1-1", address: { host: "127.0.0.1", port: 4001 }, checked: true },
        ]),
      ]),
      actual: actual([SHOP], [running(SHOP, "r1-1", 4001)]),
      plan: { backends: [], maps: [] },
    },
    {
      case: "a replica gone from the state is removed; one marked draining is drained",
      desired: desired([
        backend(SHOP, [
          { name: "r2-1", address: { host: "127.0.0.1", port: 4002 } },
          { name: "r2-2", address: { host: "127.0.0.1", port: 4003 }, draining: true },
        ]),
      ]),
      actual: actual(
        [SHOP],
        [running(SHOP, "r1-1", 4001), running(SHOP, "r2-1", 4002), running(SHOP, "r2-2", 4003)],
      ),
      plan: {
        backends: [
          {
            backend: SHOP,
            add: [],
            update: [`set server ${SHOP}/r2-2 state drain`],
            remove: ["r1-1"],
          },
        ],
        maps: [],
      },
    },
    {
      case: "state, weight and port brought back to the desired ones",
      desired: desired([
        backend(SHOP, [
          { name: "r1-1", address: { host: "127.0.0.1", port: 4001 } },
          { name: "r1-2", address: { host: "127.0.0.1", port: 4009 } },
        ]),
      ]),
      actual: actual(
        [SHOP],
        [
          running(SHOP, "r1-1", 4001, { adminMask: 0x01, weight: 5 }),
          running(SHOP, "r1-2", 4002, { adminMask: 0x08 }),
        ],
      ),
      plan: {
        backends: [
          {
            backend: SHOP,
            add: [],
            update: [
              `set server ${SHOP}/r1-1 state ready`,
              `set server ${SHOP}/r1-1 weight 1`,
              `set server ${SHOP}/r1-2 addr 127.0.0.1 port 4009`,
              `set server ${SHOP}/r1-2 state ready`,
            ],
            remove: [],
          },
        ],
        maps: [],
      },
    },
    {
      case: "domains added, moved and removed through the map",
      desired: desired(
        [backend(SHOP, []), backend(BLOG, [])],
        [
          ["blog.localhost", BLOG],
          ["new.localhost", SHOP],
          ["shop.localhost", SHOP],
        ],
      ),
      actual: actual(
        [BLOG, SHOP],
        [],
        [
          ["blog.localhost", SHOP],
          ["old.localhost", SHOP],
          ["shop.localhost", SHOP],
        ],
      ),
      plan: {
        backends: [],
        maps: [
          `set map ${MAP} blog.localhost ${BLOG}`,
          `add map ${MAP} new.localhost ${SHOP}`,
          `del map ${MAP} old.localhost`,
        ],
      },
    },
    {
      case: "a new backend: a reload; its domain comes with it, from the map file",
      desired: desired(
        [
          backend(BLOG, [{ name: "r1-1", address: { host: "127.0.0.1", port: 5001 } }]),
          backend(SHOP, []),
        ],
        [
          ["blog.localhost", BLOG],
          ["shop.localhost", SHOP],
        ],
      ),
      actual: actual([SHOP], [], [["shop.localhost", SHOP]]),
      plan: { reload: { added: [BLOG], removed: [] }, backends: [], maps: [] },
    },
    {
      case: "a departing backend loses its domains and servers before the reload drops it",
      desired: desired([backend(SHOP, [])], [["shop.localhost", SHOP]]),
      actual: actual(
        [BLOG, SHOP],
        [running(BLOG, "r1-1", 5001), running(BLOG, "r1-2", 5002)],
        [
          ["blog.localhost", BLOG],
          ["shop.localhost", SHOP],
        ],
      ),
      plan: {
        reload: { added: [], removed: [BLOG] },
        backends: [{ backend: BLOG, add: [], update: [], remove: ["r1-1", "r1-2"] }],
        maps: [`del map ${MAP} blog.localhost`],
      },
    },
    {
      case: "a domain moving from a departing backend to an arriving one: the reload switches both",
      desired: desired([backend("app_blog__web2", [])], [["blog.localhost", "app_blog__web2"]]),
      actual: actual([BLOG], [running(BLOG, "r1-1", 5001)], [["blog.localhost", BLOG]]),
      plan: { reload: { added: ["app_blog__web2"], removed: [BLOG] }, backends: [], maps: [] },
    },
  ];

  it.each(cases)("$case", ({ desired, actual, plan }) => {
    expect(planEdgeChanges(desired, actual, MAP)).toEqual(plan);
  });

  it.each([{ checked: false }, { checked: true }])(
    "adds a server that is draining from the start without waiting for it (checked: $checked)",
    ({ checked }) => {
      const plan = planEdgeChanges(
        desired([
          backend(SHOP, [
            { name: "r1-1", address: { host: "127.0.0.1", port: 4001 }, draining: true, checked },
          ]),
        ]),
        actual([SHOP]),
        MAP,
      );
      expect(plan.backends[0]?.add[0]).toMatchObject({
        waitForCheck: false,
        admit: [`set server ${SHOP}/r1-1 state drain`],
      });
    },
  );
});

describe("isEmptyPlan", () => {
  it.each([
    [{ backends: [], maps: [] }, true],
    [{ backends: [], maps: ["del map m h"] }, false],
    [{ reload: { added: ["b"], removed: [] }, backends: [], maps: [] }, false],
  ] as [EdgePlan, boolean][])("%j → %s", (plan, empty) => {
    expect(isEmptyPlan(plan)).toBe(empty);
  });
});
