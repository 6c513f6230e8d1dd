import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type KeyCheckStore, loadSecretKey } from "./secret-key.js";

describe("loadSecretKey", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const setUp = () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-key-"));
    dirs.push(dir);
    let check: string | undefined;
    let sealed = false;
    const store: KeyCheckStore & { seal(): void } = {
      keyCheck: () => check,
      setKeyCheck: (value) => {
        check = value;
      },
      hasSealedValues: () => sealed,
      seal: () => {
        sealed = true;
      },
    };
    return { file: join(dir, "secret-key"), store };
  };

  it("writes a key on first start (0600) and opens with it again", () => {
    const { file, store } = setUp();
    const first = loadSecretKey(file, store);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(file, "utf8").trim(), "base64")).toHaveLength(32);
    const again = loadSecretKey(file, store);
    expect(again.keyId).toBe(first.keyId);
    expect(again.open(first.seal("v", "c"), "c")).toBe("v");
  });

  it("refuses to start with another key than the database's, and says what to do", () => {
    const { file, store } = setUp();
    loadSecretKey(file, store);
    writeFileSync(file, `${Buffer.alloc(32, 7).toString("base64")}\n`);
    expect(() => loadSecretKey(file, store)).toThrow(
      "is not the key this database's secrets were sealed with",
    );
  });

  it("refuses a missing key file once something is sealed, and replaces it while nothing is", () => {
    const { file, store } = setUp();
    const first = loadSecretKey(file, store);
    rmSync(file);
    const second = loadSecretKey(file, store);
    expect(second.keyId).not.toBe(first.keyId);
    store.seal();
    rmSync(file);
    expect(() => loadSecretKey(file, store)).toThrow(
      "is missing, and this database holds secrets sealed with a key",
    );
  });

  it("refuses a file that holds no key", () => {
    const { file, store } = setUp();
    writeFileSync(file, "not a key\n");
    expect(() => loadSecretKey(file, store)).toThrow("does not hold a key");
  });
});
