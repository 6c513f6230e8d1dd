import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isSealed, Sealer, UnsealError } from "./sealer.js";

describe("Sealer", () => {
  const sealer = new Sealer(randomBytes(32));

  it("opens what it sealed, byte for byte, and never shows the value sealed", () => {
    const value = "p@ss:w=rd $HOME 'q' \"dq\"\nline2 ü ✓";
    const sealed = sealer.seal(value, "config:shop::DB_PASSWORD");
    expect(isSealed(sealed)).toBe(true);
    expect(sealed).not.toContain("p@ss");
    expect(sealer.open(sealed, "config:shop::DB_PASSWORD")).toBe(value);
    // A fresh nonce each time: the same value never seals the same way twice.
    expect(sealer.seal(value, "c")).not.toBe(sealer.seal(value, "c"));
  });

  it("refuses another key, another row's context and a changed byte, naming neither value nor key", () => {
    const sealed = sealer.seal("s3cret", "config:shop::A");
    const other = new Sealer(randomBytes(32));
    expect(() => other.open(sealed, "config:shop::A")).toThrow(UnsealError);
    expect(() => other.open(sealed, "config:shop::A")).toThrow(
      `config:shop::A does not open with the secret key ${other.keyId}`,
    );
    expect(() => sealer.open(sealed, "config:blog::A")).toThrow(UnsealError);
    const bytes = Buffer.from(sealed.slice("sealed:v1:".length), "base64");
    bytes[20] = (bytes[20] as number) ^ 1;
    expect(() => sealer.open(`sealed:v1:${bytes.toString("base64")}`, "config:shop::A")).toThrow(
      UnsealError,
    );
    expect(() => sealer.open("plain text", "x")).toThrow("not a sealed value");
  });

  it("seals bytes that are not text", () => {
    const archive = randomBytes(1000);
    expect(sealer.openBytes(sealer.seal(archive, "files"), "files").equals(archive)).toBe(true);
  });
});
