import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase } from "../state/database.js";
import { Store } from "../state/store.js";
import { hashToken } from "../state/tokens.js";
import { bearerToken, ensureAdminToken, isValidToken } from "./admin-token.js";

describe("the admin token", () => {
  const dirs: string[] = [];
  const tempFile = () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-token-"));
    dirs.push(dir);
    return join(dir, "admin-token");
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("is written once with mode 0600 and only its hash is stored", () => {
    const store = new Store(openDatabase(":memory:"));
    const file = tempFile();
    expect(ensureAdminToken(store, file)).toEqual({ created: true });
    const token = readFileSync(file, "utf8").trim();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(isValidToken(store, token)).toBe(true);
    expect(JSON.stringify(store.db.prepare("SELECT * FROM admin_tokens").all())).not.toContain(
      token,
    );

    expect(ensureAdminToken(store, file)).toEqual({ created: false });
    expect(readFileSync(file, "utf8").trim()).toBe(token);
  });

  it("adopts an existing token file for a new database, so scripts keep working", () => {
    const file = tempFile();
    writeFileSync(file, "skiff_kept\n", { mode: 0o600 });
    const store = new Store(openDatabase(":memory:"));
    expect(ensureAdminToken(store, file)).toEqual({ created: false });
    expect(isValidToken(store, "skiff_kept")).toBe(true);
  });

  it("does not mint a second token when the file is gone but a hash exists", () => {
    const store = new Store(openDatabase(":memory:"));
    const file = tempFile();
    ensureAdminToken(store, file);
    unlinkSync(file);
    expect(ensureAdminToken(store, file)).toEqual({ created: false, missing: true });
  });

  it("replaces an empty token file left by a failed write", () => {
    const file = tempFile();
    writeFileSync(file, "");
    const store = new Store(openDatabase(":memory:"));
    expect(ensureAdminToken(store, file)).toEqual({ created: true });
    expect(isValidToken(store, readFileSync(file, "utf8").trim())).toBe(true);
  });

  it("rejects missing, wrong and near-miss tokens", () => {
    const store = new Store(openDatabase(":memory:"));
    store.addAdminTokenHash(hashToken("skiff_right"));
    expect(isValidToken(store, undefined)).toBe(false);
    expect(isValidToken(store, "")).toBe(false);
    expect(isValidToken(store, "skiff_righ")).toBe(false);
    expect(isValidToken(store, "skiff_right ")).toBe(false);
    expect(isValidToken(store, "skiff_right")).toBe(true);
  });

  it.each([
    ["Bearer abc", "abc"],
    ["bearer abc", "abc"],
    ["Bearer  abc  ", "abc"],
    ["Basic abc", undefined],
    ["Bearer", undefined],
    ["Bearer a b", undefined],
    [undefined, undefined],
  ])("reads the token from %j", (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});
