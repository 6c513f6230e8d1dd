import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { skiffPaths } from "../config.js";
import { restrictHomeModes } from "./file-modes.js";

describe("restrictHomeModes", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const mode = (path: string) => statSync(path).mode & 0o777;

  it("closes an installation an older Skiff left readable by everyone", () => {
    const home = mkdtempSync(join(tmpdir(), "skiff-home-"));
    dirs.push(home);
    chmodSync(home, 0o755);
    const paths = skiffPaths(home);
    const runDir = join(paths.runs, "shop", "3");
    for (const dir of [paths.logs, runDir]) mkdirSync(dir, { recursive: true, mode: 0o755 });
    const files = [
      paths.database,
      `${paths.database}-wal`,
      paths.serverLog,
      `${paths.serverLog}.1`,
      join(paths.logs, "registry.log"),
      join(runDir, "events.jsonl"),
      join(runDir, "build.log"),
    ];
    for (const file of files) writeFileSync(file, "x", { mode: 0o644 });

    restrictHomeModes(home, paths);

    expect(mode(home)).toBe(0o700);
    expect(files.map((file) => [file, mode(file)])).toEqual(files.map((file) => [file, 0o600]));
    for (const dir of [paths.logs, paths.runs, join(paths.runs, "shop"), runDir])
      expect([dir, mode(dir)]).toEqual([dir, 0o700]);
  });

  it("starts on a home that has no logs, runs or database yet", () => {
    const home = mkdtempSync(join(tmpdir(), "skiff-home-"));
    dirs.push(home);
    expect(() => restrictHomeModes(home, skiffPaths(home))).not.toThrow();
    expect(mode(home)).toBe(0o700);
  });
});
