import { chmodSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase } from "./database.js";
import { migrations } from "./migrations/index.js";
import { DELIVERY_RETENTION_COUNT, DELIVERY_RETENTION_DAYS, Store } from "./store.js";

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

describe("the state database's file modes", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const mode = (path: string) => statSync(path).mode & 0o777;

  it("creates the database, its -wal and -shm readable by the owner only", () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-db-"));
    dirs.push(dir);
    const file = join(dir, "skiff.db");
    const db = openDatabase(file);
    new Store(db).createApp("shop");
    expect([mode(file), mode(`${file}-wal`), mode(`${file}-shm`)]).toEqual([0o600, 0o600, 0o600]);
    db.close();
  });

  it("restricts a database an older Skiff left readable by everyone", () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-db-"));
    dirs.push(dir);
    const file = join(dir, "skiff.db");
    openDatabase(file).close();
    chmodSync(file, 0o644);
    const db = openDatabase(file);
    expect([mode(file), mode(`${file}-wal`), mode(`${file}-shm`)]).toEqual([0o600, 0o600, 0o600]);
    db.close();
  });
});

describe("webhook deliveries", () => {
  let now = new Date("2026-11-26T10:00:00Z");
  const store = () => {
    const s = new Store(openDatabase(":memory:"), () => now);
    s.createApp("shop");
    s.createApp("blog");
    return s;
  };

  it("knows a delivery by any of its keys, per app", () => {
    const s = store();
    expect(s.isKnownDelivery("shop", ["id:github:1", "body:aa"])).toBe(false);
    s.rememberDelivery("shop", ["id:github:1", "body:aa"]);
    expect(s.isKnownDelivery("shop", ["id:github:1"])).toBe(true);
    // A replay with a fresh delivery id but the same signed body is still a repeat.
    expect(s.isKnownDelivery("shop", ["id:github:2", "body:aa"])).toBe(true);
    expect(s.isKnownDelivery("shop", ["id:github:2", "body:bb"])).toBe(false);
    expect(s.isKnownDelivery("blog", ["id:github:1", "body:aa"])).toBe(false);
  });

  it("forgets deliveries older than the retention period", () => {
    const s = store();
    now = new Date("2026-11-01T10:00:00Z");
    s.rememberDelivery("shop", ["id:github:old"]);
    now = new Date(now.getTime() + (DELIVERY_RETENTION_DAYS - 1) * 86_400_000);
    s.rememberDelivery("shop", ["id:github:newer"]);
    expect(s.isKnownDelivery("shop", ["id:github:old"])).toBe(true);
    now = new Date(now.getTime() + 2 * 86_400_000);
    s.rememberDelivery("blog", ["id:gitea:x"]);
    expect(s.isKnownDelivery("shop", ["id:github:old"])).toBe(false);
    expect(s.isKnownDelivery("shop", ["id:github:newer"])).toBe(true);
  });

  it("keeps at most the newest DELIVERY_RETENTION_COUNT keys per app", () => {
    const s = store();
    now = new Date("2026-11-26T10:00:00Z");
    for (let i = 0; i <= DELIVERY_RETENTION_COUNT; i++)
      s.rememberDelivery("shop", [`id:github:${i}`]);
    s.rememberDelivery("blog", ["id:github:0"]);
    const count = (app: string) =>
      (
        s.db.prepare("SELECT count(*) AS n FROM webhook_deliveries WHERE app = ?").get(app) as {
          n: number;
        }
      ).n;
    expect(count("shop")).toBe(DELIVERY_RETENTION_COUNT);
    expect(s.isKnownDelivery("shop", ["id:github:0"])).toBe(false);
    expect(s.isKnownDelivery("shop", [`id:github:${DELIVERY_RETENTION_COUNT}`])).toBe(true);
    expect(s.isKnownDelivery("blog", ["id:github:0"])).toBe(true);
  });

  it("forgets an app's deliveries with the app", () => {
    const s = store();
    s.rememberDelivery("shop", ["id:github:1"]);
    s.deleteApp("shop");
    s.createApp("shop");
    expect(s.isKnownDelivery("shop", ["id:github:1"])).toBe(false);
  });
});

describe("webhook secrets", () => {
  it("reads an existing secret without creating one", () => {
    const s = new Store(openDatabase(":memory:"));
    s.createApp("shop");
    expect(s.existingWebhookSecret("shop")).toBeUndefined();
    const secret = s.webhookSecret("shop");
    expect(s.existingWebhookSecret("shop")).toBe(secret);
    expect(s.existingWebhookSecret("nope")).toBeUndefined();
  });
});
