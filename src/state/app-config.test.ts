import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Sealer } from "../secrets/sealer.js";
import { ConfigStore } from "./app-config.js";
import { openDatabase } from "./database.js";
import { ReleaseFileStore } from "./release-files.js";
import { RunStore } from "./runs.js";
import { Store } from "./store.js";

describe("ConfigStore", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const sealer = new Sealer(randomBytes(32));
  const open = () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-config-"));
    dirs.push(dir);
    const file = join(dir, "skiff.db");
    const db = openDatabase(file);
    new Store(db).createApp("shop");
    return { db, dir, file, config: new ConfigStore(db, sealer) };
  };
  /** Every text the database file holds, as bytes on disk (the WAL included). */
  const onDisk = (db: ReturnType<typeof openDatabase>, file: string) => {
    db.pragma("wal_checkpoint(TRUNCATE)");
    return readFileSync(file).toString("latin1");
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

  it("keeps a secret sealed on disk, in the config and in every release column, and opens it only with the key", () => {
    const { db, file, config } = open();
    const secret = "s3cr3t-value-4242";
    config.set("shop", { DB_PASSWORD: secret }, "", { secret: true });
    config.set("shop", { PLAIN: "visible" });
    // Set again without --secret: still a secret.
    config.set("shop", { DB_PASSWORD: secret });
    expect(config.snapshot("shop")).toEqual({
      app: { DB_PASSWORD: secret, PLAIN: "visible" },
      services: {},
      secret: ["DB_PASSWORD"],
    });
    const runs = new RunStore(db, undefined, sealer);
    const run = runs.createRun("shop", { kind: "config" });
    runs.createRelease({
      app: "shop",
      runId: run.id,
      trigger: "config",
      spec: { environment: { DB_PASSWORD: secret } },
      planJson: JSON.stringify({ env: secret }),
      images: [],
      status: "published",
      config: config.snapshot("shop"),
    });
    expect(runs.getReleaseByNumber("shop", 1)?.config?.app.DB_PASSWORD).toBe(secret);
    expect(runs.getReleaseByNumber("shop", 1)?.planJson).toContain(secret);
    const disk = onDisk(db, file);
    expect(disk).not.toContain(secret);
    expect(disk).toContain("visible");
    expect(() => new ConfigStore(db, new Sealer(randomBytes(32))).snapshot("shop")).toThrow(
      "does not open with the secret key",
    );
    expect(() => new RunStore(db).getReleaseByNumber("shop", 1)).toThrow("has no secret key");
    expect(config.allSecrets()).toEqual([{ name: "DB_PASSWORD", value: secret }]);
    expect(config.scrubber().scrub(`pw=${secret}`)).toBe("pw=[secret DB_PASSWORD]");
  });

  it("a rollback's replace keeps which vars are secrets", () => {
    const { config } = open();
    config.replace("shop", {
      app: { A: "plain", B: "secret-b" },
      services: { db: { ROOT: "root-pw" } },
      secret: ["B", "db/ROOT"],
    });
    expect(config.snapshot("shop").secret).toEqual(["B", "db/ROOT"]);
  });

  it("release files are sealed on disk and a rollback's copy opens under its own number", () => {
    const { dir } = open();
    const files = new ReleaseFileStore(join(dir, "releases"), sealer);
    const archive = Buffer.from("run/secrets/db_password\0s3cr3t-in-a-file");
    files.save("shop", 1, { db: archive });
    expect(readFileSync(join(dir, "releases", "shop", "r1", "db.tar")).includes("s3cr3t")).toBe(
      false,
    );
    files.copy("shop", 1, 2);
    expect(files.load("shop", 2).db?.equals(archive)).toBe(true);
    expect(() => new ReleaseFileStore(join(dir, "releases")).load("shop", 1)).toThrow(
      "has no secret key",
    );
  });
});

describe("webhook secrets", () => {
  it("are sealed at rest, and one stored in the clear before is sealed when the key comes", () => {
    const db = openDatabase(":memory:");
    const store = new Store(db);
    store.createApp("shop");
    store.createApp("blog");
    const legacy = store.webhookSecret("blog") as string;
    const sealer = new Sealer(randomBytes(32));
    store.sealWith(sealer);
    const secret = store.webhookSecret("shop") as string;
    const stored = JSON.stringify(db.prepare("SELECT webhook_secret FROM apps").all());
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(legacy);
    expect(store.existingWebhookSecret("shop")).toBe(secret);
    expect(store.webhookSecret("shop")).toBe(secret);
    expect(store.existingWebhookSecret("blog")).toBe(legacy);
    expect(store.hasSealedValues()).toBe(true);
  });
});

describe("a secret that does not open", () => {
  it("stops a snapshot with what to do, and can still be unset or set again", () => {
    const db = openDatabase(":memory:");
    new Store(db).createApp("shop");
    new ConfigStore(db, new Sealer(randomBytes(32))).set("shop", { PW: "sealed-elsewhere" }, "", {
      secret: true,
    });
    const config = new ConfigStore(db, new Sealer(randomBytes(32)));
    expect(() => config.snapshot("shop")).toThrow(
      "the secret PW of shop does not open with this server's secret key",
    );
    expect(config.snapshot("shop", { tolerant: true })).toEqual({ app: {}, services: {} });
    expect(config.has("shop", "PW")).toBe(true);
    expect(config.allSecrets("shop")).toEqual([]);
    config.set("shop", { PW: "set-again-here" });
    expect(config.snapshot("shop")).toEqual({
      app: { PW: "set-again-here" },
      services: {},
      secret: ["PW"],
    });
    expect(config.unset("shop", ["PW"])).toEqual(["PW"]);
  });
});
