import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigStore } from "./app-config.js";
import { openDatabase } from "./database.js";
import { RunStore } from "./runs.js";
import { Store } from "./store.js";

describe("ConfigStore", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const open = () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-config-"));
    dirs.push(dir);
    const file = join(dir, "skiff.db");
    const db = openDatabase(file);
    new Store(db).createApp("shop");
    return { db, file, config: new ConfigStore(db) };
  };

  it("keeps values byte for byte, app-wide and per service, across a reopen", () => {
    const { db, file, config } = open();
    const tricky = "p@ss:w=rd $HOME 'q' \"dq\"\nline2 ü ✓\t";
    config.set("shop", { PASSWORD: tricky, EMPTY: "" });
    config.set("shop", { ROOT: "r" }, "db");
    db.close();
    const again = new ConfigStore(openDatabase(file));
    expect(again.snapshot("shop")).toEqual({
      app: { EMPTY: "", PASSWORD: tricky },
      services: { db: { ROOT: "r" } },
    });
  });

  it("unsets only what was set, scoped app-wide or to one service, and a reopen keeps it unset", () => {
    const { db, file, config } = open();
    config.set("shop", { A: "1", B: "2" });
    config.set("shop", { A: "db" }, "db");
    expect(config.unset("shop", ["A", "NOPE"])).toEqual(["A"]);
    db.close();
    const again = new ConfigStore(openDatabase(file));
    expect(again.snapshot("shop")).toEqual({ app: { B: "2" }, services: { db: { A: "db" } } });
  });

  it("replace makes the config exactly a snapshot (a rollback's)", () => {
    const { config } = open();
    config.set("shop", { A: "1", NEW: "x" });
    config.replace("shop", { app: { A: "0" }, services: { web: { W: "w" } } });
    expect(config.snapshot("shop")).toEqual({ app: { A: "0" }, services: { web: { W: "w" } } });
  });

  it("goes with its app, and a release keeps the snapshot it was made with", () => {
    const { db, config } = open();
    config.set("shop", { A: "1" });
    const runs = new RunStore(db);
    const run = runs.createRun("shop", { kind: "config" });
    const release = runs.createRelease({
      app: "shop",
      runId: run.id,
      trigger: "config",
      spec: {},
      images: [],
      status: "published",
      config: config.snapshot("shop"),
    });
    config.set("shop", { A: "2" });
    expect(runs.getReleaseByNumber("shop", release.number)?.config).toEqual({
      app: { A: "1" },
      services: {},
    });
    new Store(db).deleteApp("shop");
    expect(config.snapshot("shop")).toEqual({ app: {}, services: {} });
  });
});
