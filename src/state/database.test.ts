import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase } from "./database.js";
import { migrations } from "./migrations/index.js";
import { Store } from "./store.js";

describe("the state database", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("migrates a new file to the newest schema in WAL mode, and reopening changes nothing", () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-db-"));
    dirs.push(dir);
    const file = join(dir, "nested", "skiff.db");
    const first = openDatabase(file);
    expect(first.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(first.pragma("user_version", { simple: true })).toBe(migrations.length);
    new Store(first).createApp("shop");
    first.close();

    const second = openDatabase(file);
    expect(second.pragma("user_version", { simple: true })).toBe(migrations.length);
    expect(new Store(second).listApps().map((a) => a.name)).toEqual(["shop"]);
    second.close();
  });

  it("refuses a database from a newer Skiff instead of corrupting it", () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-db-"));
    dirs.push(dir);
    const file = join(dir, "skiff.db");
    const db = openDatabase(file);
    db.pragma(`user_version = ${migrations.length + 1}`);
    db.close();
    expect(() => openDatabase(file)).toThrow(/newer than this Skiff knows/);
  });
});

describe("Store", () => {
  const fixedNow = new Date("2026-11-26T10:00:00Z");
  const store = () => new Store(openDatabase(":memory:"), () => fixedNow);

  it("creates an app once and reports a taken name", () => {
    const s = store();
    expect(s.createApp("shop")).toEqual({
      name: "shop",
      deployBranch: "main",
      createdAt: fixedNow.toISOString(),
    });
    expect(s.createApp("shop")).toBeUndefined();
    expect(s.getApp("shop")?.name).toBe("shop");
    expect(s.deleteApp("shop")).toBe(true);
    expect(s.deleteApp("shop")).toBe(false);
    expect(s.getApp("shop")).toBeUndefined();
  });

  it("lists events newest first, filtered by component", () => {
    const s = store();
    s.recordEvent("registry", "started", "started (pid 10)");
    s.recordEvent("edge", "started", "started (pid 11)");
    s.recordEvent("edge", "died", "gone");
    expect(s.listEvents().map((e) => e.kind)).toEqual(["died", "started", "started"]);
    expect(s.listEvents({ component: "edge", limit: 1 })).toMatchObject([
      { component: "edge", kind: "died" },
    ]);
  });
});
