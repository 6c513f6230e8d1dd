import { describe, expect, it } from "vitest";
import { ConflictError, ValidationError } from "../errors.js";
import {
  appStateProblems,
  assertAppState,
  combineAppStates,
  type EdgeAppState,
} from "./edge-state.js";

const valid: EdgeAppState = {
  backends: [
    {
      name: "app_shop__web",
      healthPath: "/healthz?full=1",
      healthHost: "shop.localhost:8080",
      servers: [
        { name: "r12-1-a1b2c3", address: { host: "127.0.0.1", port: 32801 } },
        { name: "r11-1", address: { host: "127.0.0.1", port: 32790 }, draining: true },
      ],
    },
  ],
  domains: { "shop.localhost": "app_shop__web", "www.shop.example.com": "app_shop__web" },
};

function withBackend(change: Partial<EdgeAppState["backends"][number]>): EdgeAppState {
  return {
    ...valid,
    backends: [{ ...(valid.backends[0] as EdgeAppState["backends"][number]), ...change }],
  };
}

describe("appStateProblems", () => {
  it("finds none in a valid state", () => {
    expect(appStateProblems("shop", valid)).toEqual([]);
  });

  it.each([
    {
      case: "another app's backend",
      state: { backends: [{ ...valid.backends[0], name: "app_blog__web" }], domains: {} },
      problems: [
        'backends[0] (app_blog__web): the name must be backendName("shop", service), i.e. start with "app_shop__", and use only letters, digits and "_.:-"',
      ],
    },
    {
      case: "a health path that would break the config",
      state: withBackend({ healthPath: "/health check#x" }),
      problems: [
        'backends[0] (app_shop__web): healthPath "/health check#x" must start with "/" and contain no spaces, quotes, "\\", "#" or ";"',
      ],
    },
    {
      case: "a bad health host",
      state: withBackend({ healthHost: "shop localhost" }),
      problems: [
        'backends[0] (app_shop__web): healthHost "shop localhost" must be a host name, optionally with ":port"',
      ],
    },
    {
      case: "servers with a bad name, a duplicate and a bad port",
      state: withBackend({
        servers: [
          { name: "r1 1", address: { host: "127.0.0.1", port: 80 } },
          { name: "r2", address: { host: "127.0.0.1", port: 0 } },
          { name: "r2", address: { host: "127.0.0.1", port: 70000 } },
        ],
      }),
      problems: [
        'backends[0] (app_shop__web).servers[0] (r1 1): the name may use only letters, digits and "_.:-"',
        "backends[0] (app_shop__web).servers[1] (r2): port 0 is not a TCP port (1-65535)",
        "backends[0] (app_shop__web).servers[2] (r2): the server appears twice",
        "backends[0] (app_shop__web).servers[2] (r2): port 70000 is not a TCP port (1-65535)",
      ],
    },
    {
      case: "domains in uppercase, with a port, or to an unknown backend",
      state: {
        ...valid,
        domains: {
          "Shop.localhost": "app_shop__web",
          "shop.localhost:8080": "app_shop__web",
          "api.localhost": "app_shop__api",
        },
      },
      problems: [
        'domains.Shop.localhost: not a lowercase host name (letters, digits, "-" and "."; no port)',
        'domains.shop.localhost:8080: not a lowercase host name (letters, digits, "-" and "."; no port)',
        "domains.api.localhost: routes to app_shop__api, which is not one of this app's backends",
      ],
    },
  ] as { case: string; state: EdgeAppState; problems: string[] }[])(
    "$case",
    ({ state, problems }) => {
      expect(appStateProblems("shop", state)).toEqual(problems);
    },
  );

  it("throws all of them at once as a ValidationError", () => {
    expect(() =>
      assertAppState("shop", withBackend({ healthPath: "x", healthHost: "a b" })),
    ).toThrow(ValidationError);
  });
});

describe("combineAppStates", () => {
  const blog: EdgeAppState = {
    backends: [
      {
        name: "app_blog__web",
        healthPath: "/",
        servers: [{ name: "r1-1", address: { host: "127.0.0.1", port: 5001 } }],
      },
    ],
    domains: { "blog.localhost": "app_blog__web" },
  };

  it("merges apps with backends and domains in a stable order", () => {
    const snapshot = combineAppStates(
      new Map([
        ["shop", valid],
        ["blog", blog],
      ]),
    );
    expect(snapshot.backends.map((b) => b.name)).toEqual(["app_blog__web", "app_shop__web"]);
    expect([...snapshot.domains]).toEqual([
      ["blog.localhost", "app_blog__web"],
      ["shop.localhost", "app_shop__web"],
      ["www.shop.example.com", "app_shop__web"],
    ]);
  });

  it("refuses a domain two apps claim, naming both", () => {
    const greedy = { ...blog, domains: { ...blog.domains, "shop.localhost": "app_blog__web" } };
    const merge = () =>
      combineAppStates(
        new Map([
          ["shop", valid],
          ["blog", greedy],
        ]),
      );
    expect(merge).toThrow(ConflictError);
    expect(merge).toThrow(
      "the domain shop.localhost is already routed to app blog, so app shop cannot have it",
    );
  });
});
