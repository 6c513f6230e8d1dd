import { describe, expect, it } from "vitest";
import {
  configKeyProblem,
  configValueProblem,
  interpolationVariables,
  mergeRolledBackConfig,
  sameConfig,
  serviceConfigEnvironment,
} from "./config-vars.js";

describe("config keys and values", () => {
  it.each(["DATABASE_URL", "_X", "a1", "x".repeat(256)])("%s is a valid key", (key) => {
    expect(configKeyProblem(key)).toBeUndefined();
  });

  it.each([
    ["1ABC", "not a valid config key"],
    ["A-B", "not a valid config key"],
    ["A B", "not a valid config key"],
    ["", "not a valid config key"],
    ["x".repeat(257), "longer than 256"],
    ["__proto__", "cannot be a config key"],
  ])("%j is refused (%s)", (key, message) => {
    expect(configKeyProblem(key)).toContain(message);
  });

  it("keeps any text but NUL, and never quotes the value in its refusal", () => {
    expect(configValueProblem("K", "$a:b=c 'q' \"d\"\nü ✓")).toBeUndefined();
    const nul = configValueProblem("K", "s3cret\0x");
    expect(nul).toContain("NUL");
    expect(nul).not.toContain("s3cret");
    const big = configValueProblem("K", "y".repeat(64 * 1024 + 1));
    expect(big).toContain("64 KiB");
  });
});

describe("where config vars go", () => {
  const config = {
    app: { GREETING: "hi", SHARED: "app" },
    services: { db: { ROOT: "pw" }, web: { SHARED: "web" } },
  };

  it("interpolation sees the app-wide vars only", () => {
    expect(interpolationVariables(config)).toEqual({ GREETING: "hi", SHARED: "app" });
  });

  it("a built service gets the app-wide vars with its own over them", () => {
    expect(serviceConfigEnvironment(config, { name: "web", builtFromRepository: true })).toEqual({
      GREETING: "hi",
      SHARED: "web",
    });
  });

  it("an image service gets only its own vars, so an app-wide change never restarts it", () => {
    expect(serviceConfigEnvironment(config, { name: "db", builtFromRepository: false })).toEqual({
      ROOT: "pw",
    });
    expect(serviceConfigEnvironment(config, { name: "cache", builtFromRepository: false })).toEqual(
      {},
    );
  });

  it("two snapshots are the same whatever the order of their keys, and an empty service counts as none", () => {
    expect(
      sameConfig(
        { app: { A: "1", B: "2" }, services: { web: {} } },
        { app: { B: "2", A: "1" }, services: {} },
      ),
    ).toBe(true);
    expect(sameConfig({ app: { A: "1" }, services: {} }, { app: { A: "2" }, services: {} })).toBe(
      false,
    );
    expect(
      sameConfig({ app: {}, services: { web: { A: "1" } } }, { app: { A: "1" }, services: {} }),
    ).toBe(false);
  });
});

describe("the config a rollback leaves", () => {
  it("is the target's, but keeps what changed while the rollback ran, and never un-secrets a var", () => {
    const target = { app: { A: "old", B: "old-b", PW: "old-pw" }, services: { db: { R: "r1" } } };
    const before = {
      app: { A: "new", B: "new-b", PW: "new-pw", C: "c" },
      services: {},
      secret: ["PW"],
    };
    // During the rollback: B changed again, C was unset, D was set.
    const now = {
      app: { A: "new", B: "during", PW: "new-pw", D: "d" },
      services: {},
      secret: ["PW"],
    };
    expect(mergeRolledBackConfig({ target, before, now })).toEqual({
      app: { A: "old", B: "during", PW: "old-pw", D: "d" },
      services: { db: { R: "r1" } },
      secret: ["PW"],
    });
  });
});
