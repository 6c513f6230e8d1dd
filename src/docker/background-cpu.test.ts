import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BUILDKIT_CGROUPS, lowerBuildCpuWeight } from "./background-cpu.js";

describe("lowerBuildCpuWeight", () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-cgroup-"));
  afterEach(() => rmSync(join(dir, "cpu.shares"), { force: true }));

  it("writes the first cgroup file that exists", async () => {
    const shares = join(dir, "cpu.shares");
    writeFileSync(shares, "1024");
    const result = await lowerBuildCpuWeight([
      { file: join(dir, "missing", "cpu.weight"), value: "5" },
      { file: shares, value: "128" },
    ]);
    expect(result).toEqual({ file: shares });
    expect(readFileSync(shares, "utf8")).toBe("128");
  });

  it("says why when no cgroup can be written", async () => {
    const result = await lowerBuildCpuWeight([{ file: join(dir, "missing", "x"), value: "1" }]);
    expect(result).toEqual({ reason: `${join(dir, "missing", "x")}: ENOENT` });
  });

  it("gives v1 shares of 128 and the v2 weight runc derives from them", () => {
    expect(BUILDKIT_CGROUPS.map((c) => c.value)).toEqual(["128", "5"]);
  });
});
