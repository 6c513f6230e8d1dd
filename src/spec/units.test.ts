import { describe, expect, it } from "vitest";
import { parseBytes, parseDuration } from "./units.js";

describe("parseDuration", () => {
  it.each([
    ["10s", 10_000],
    ["500ms", 500],
    ["1m30s", 90_000],
    ["1h", 3_600_000],
    ["2h45m", 9_900_000],
    ["1.5s", 1_500],
    ["250us", 0.25],
    ["1h1m1s1ms", 3_661_001],
    ["0", 0],
    [" 30s ", 30_000],
  ])("%s is %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "10", "s", "1x", "1 s", "-5s", "1m30", "ten seconds", "1d"])(
    "%j is not a duration",
    (text) => {
      expect(parseDuration(text)).toBeUndefined();
    },
  );
});

describe("parseBytes", () => {
  const Ki = 1024;
  const Mi = 1024 ** 2;
  const Gi = 1024 ** 3;
  it.each<[string | number, number]>([
    ["512m", 512 * Mi],
    ["1g", Gi],
    ["1GB", Gi],
    ["1GiB", Gi],
    ["100MB", 100 * Mi],
    ["2kb", 2 * Ki],
    ["2K", 2 * Ki],
    ["1.5g", 1.5 * Gi],
    ["1024", 1024],
    ["10b", 10],
    ["100 MB", 100 * Mi],
    [1048576, 1048576],
    [0, 0],
  ])("%j is %d bytes", (value, bytes) => {
    expect(parseBytes(value)).toBe(bytes);
  });

  it.each<string | number>(["", "lots", "1x", "-1m", "1i", "m", 1.5, -1])(
    "%j is not a size",
    (value) => {
      expect(parseBytes(value)).toBeUndefined();
    },
  );
});
