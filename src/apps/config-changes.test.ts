import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigStore } from "../state/app-config.js";
import { openDatabase } from "../state/database.js";
import type { ReleaseRecord, RunTrigger } from "../state/runs.js";
import { Store } from "../state/store.js";
import { type ConfigChangeDeps, changeConfig } from "./config-changes.js";

describe("changeConfig", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** A real config store, a live release (or none), and the runs the changes submit. */
  const setUp = (live?: Partial<ReleaseRecord>) => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-config-change-"));
    dirs.push(dir);
    const db = openDatabase(join(dir, "skiff.db"));
    new Store(db).createApp("shop");
    const config = new ConfigStore(db);
    const submitted: { trigger: RunTrigger; change: string }[] = [];
    let change = "";
    const deps: ConfigChangeDeps = {
      config,
      appExists: (app) => app === "shop",
      liveRelease: () =>
        live ? ({ number: 4, app: "shop", images: [], ...live } as ReleaseRecord) : undefined,
      liveTree: (what) => {
        change = what;
        return { fetch: async () => ({}) };
      },
      submit: (_app, trigger) => {
        submitted.push({ trigger, change });
        return { run: { number: 9 } };
      },
    };
    return { config, deps, submitted };
  };

  it("stores the vars and starts a config run from the live release", () => {
    const { config, deps, submitted } = setUp({ config: { app: {}, services: {} } });
    const outcome = changeConfig(deps, "shop", { set: { A: "1", B: "x=y" }, restart: true });
    expect(outcome).toEqual({ changed: ["A", "B"], notSet: [], run: 9 });
    expect(config.snapshot("shop").app).toEqual({ A: "1", B: "x=y" });
    expect(submitted).toEqual([{ trigger: { kind: "config" }, change: "config:set A, B" }]);
  });

  it("only stores when no release is live, or with --no-restart", () => {
    const none = setUp();
    expect(changeConfig(none.deps, "shop", { set: { A: "1" }, restart: true }).stored).toContain(
      "no release is live",
    );
    expect(none.submitted).toEqual([]);
    const held = setUp({});
    expect(changeConfig(held.deps, "shop", { set: { A: "1" }, restart: false }).stored).toContain(
      "--no-restart",
    );
    expect(held.submitted).toEqual([]);
    expect(held.config.snapshot("shop").app).toEqual({ A: "1" });
  });

  it("starts no run when the live release already has this config", () => {
    // A --no-restart change, then the same value again: the store moved back to what r4 runs.
    const { config, deps, submitted } = setUp({ config: { app: { A: "1" }, services: {} } });
    config.set("shop", { A: "0" });
    const outcome = changeConfig(deps, "shop", { set: { A: "1" }, restart: true });
    expect(outcome.changed).toEqual(["A"]);
    expect(outcome.stored).toContain("r4 already runs with this config");
    expect(submitted).toEqual([]);
  });

  it("unsets a service's own vars and says which keys were not set", () => {
    const { config, deps } = setUp({});
    config.set("shop", { ROOT: "pw" }, "db");
    const outcome = changeConfig(deps, "shop", {
      unset: ["ROOT", "NOPE"],
      service: "db",
      restart: true,
    });
    expect(outcome.changed).toEqual(["ROOT"]);
    expect(outcome.notSet).toEqual(["NOPE"]);
    expect(config.snapshot("shop")).toEqual({ app: {}, services: {} });
  });

  it.each([
    [{ set: {}, restart: true }, "nothing to change"],
    [{ set: { "1X": "v" }, restart: true }, "not a valid config key"],
    [{ set: { K: "a\0b" }, restart: true }, "NUL"],
    [{ set: { K: "v" }, unset: ["K"], restart: true }, "both set and unset"],
    [{ set: { K: "v" }, service: "../db", restart: true }, "not a service name"],
  ])("refuses %j before storing anything (%s)", (change, message) => {
    const { config, deps, submitted } = setUp({});
    expect(() => changeConfig(deps, "shop", change)).toThrow(message);
    expect(config.snapshot("shop")).toEqual({ app: {}, services: {} });
    expect(submitted).toEqual([]);
  });

  it("refuses an unknown app", () => {
    const { deps } = setUp();
    expect(() => changeConfig(deps, "nope", { set: { A: "1" }, restart: true })).toThrow(
      'no app named "nope"',
    );
  });
});
