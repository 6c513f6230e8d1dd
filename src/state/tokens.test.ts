import { describe, expect, it } from "vitest";
import { openDatabase } from "./database.js";
import { Store } from "./store.js";
import { hashToken, TokenStore } from "./tokens.js";

describe("TokenStore", () => {
  const setUp = () => {
    const db = openDatabase(":memory:");
    const store = new Store(db);
    store.createApp("shop");
    let now = new Date("2026-01-01T00:00:00.000Z");
    const tokens = new TokenStore(db, () => now);
    return { db, store, tokens, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
  };

  it("keeps only the hash, and knows the token as its principal until it expires", () => {
    const { db, tokens, advance } = setUp();
    const { token, record } = tokens.create({
      name: "ci-shop",
      scope: "deploy",
      app: "shop",
      lifetimeMs: 86_400_000,
    });
    expect(token).toMatch(/^skiff_[A-Za-z0-9_-]{43}$/);
    expect(record).toEqual({
      name: "ci-shop",
      scope: "deploy",
      app: "shop",
      createdAt: "2026-01-01T00:00:00.000Z",
      expiresAt: "2026-01-02T00:00:00.000Z",
    });
    const stored = db.prepare("SELECT * FROM tokens").all();
    expect(JSON.stringify(stored)).not.toContain(token);
    expect(JSON.stringify(stored)).toContain(hashToken(token));
    expect(tokens.authenticate(token)).toEqual({ name: "ci-shop", scope: "deploy", app: "shop" });
    expect(tokens.get("ci-shop")?.lastUsedAt).toBe("2026-01-01T00:00:00.000Z");
    expect(tokens.authenticate(`${token}x`)).toBeUndefined();
    advance(86_400_000);
    expect(tokens.authenticate(token)).toBeUndefined();
  });

  it("a revoked token stops at once, and an app's tokens go with it", () => {
    const { store, tokens } = setUp();
    const a = tokens.create({ name: "alice", scope: "read", app: "shop" });
    const b = tokens.create({ name: "root", scope: "admin" });
    expect(tokens.revoke("alice")).toBe(true);
    expect(tokens.revoke("alice")).toBe(false);
    expect(tokens.authenticate(a.token)).toBeUndefined();
    tokens.create({ name: "bob", scope: "deploy", app: "shop" });
    store.deleteApp("shop");
    expect(tokens.list().map((t) => t.name)).toEqual(["root"]);
    expect(tokens.authenticate(b.token)).toEqual({ name: "root", scope: "admin" });
  });
});
