import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ValidationError } from "../errors.js";
import { contextRelativeDockerfile, createBuildContext, listBuildContext } from "./context.js";
import { entryHeader, paxRecords } from "./tar.js";

let dir: string;
let outside: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "skiff-context-"));
  outside = mkdtempSync(join(tmpdir(), "skiff-outside-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

function write(files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

async function archive(options: { dockerfile?: string } = {}): Promise<Buffer> {
  const stream = await createBuildContext(dir, options);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `tar -tv` of the archive, as GNU tar reads it: "type owner path" per entry. */
function listing(tar: Buffer): string[] {
  return execFileSync("tar", ["--numeric-owner", "-tvf", "-"], { input: tar })
    .toString()
    .trim()
    .split("\n")
    .map((line) => {
      const [mode = "", owner = "", ...rest] = line.split(/\s+/);
      return `${mode[0]} ${owner} ${rest.slice(3).join(" ")}`;
    });
}

describe("createBuildContext", () => {
  it("sends the tree sorted, root-owned, leaving out what .dockerignore names", async () => {
    write({
      Dockerfile: "FROM scratch\n",
      ".dockerignore": "secret.txt\n*.log\nlogs\n!logs/keep.log\n",
      "app.js": "console.log(1)\n",
      "secret.txt": "hunter2\n",
      "debug.log": "x",
      "logs/keep.log": "kept",
      "logs/drop.log": "dropped",
      "src/index.js": "export {}\n",
    });
    expect(listing(await archive())).toEqual([
      "- 0/0 .dockerignore",
      "- 0/0 Dockerfile",
      "- 0/0 app.js",
      "- 0/0 logs/keep.log",
      "d 0/0 src/",
      "- 0/0 src/index.js",
    ]);
  });

  it("always sends the Dockerfile and .dockerignore, even when ignored", async () => {
    write({ "docker/Dockerfile": "FROM scratch\n", ".dockerignore": "*\n", "a.txt": "a" });
    const paths = (await listBuildContext(dir, { dockerfile: "docker/Dockerfile" })).map(
      (entry) => entry.entry.path,
    );
    expect(paths).toEqual([".dockerignore", "docker/Dockerfile"]);
  });

  it("sends symbolic links as links and never reads through them", async () => {
    writeFileSync(join(outside, "passwords"), "root:secret\n");
    mkdirSync(join(outside, "tree"));
    writeFileSync(join(outside, "tree", "inner.txt"), "inner\n");
    write({ Dockerfile: "FROM scratch\n" });
    symlinkSync(join(outside, "passwords"), join(dir, "absolute-link"));
    symlinkSync("../../etc/hostname", join(dir, "relative-link"));
    symlinkSync(join(outside, "tree"), join(dir, "dir-link"));
    const tar = await archive();
    expect(listing(tar)).toEqual([
      "- 0/0 Dockerfile",
      `l 0/0 absolute-link -> ${join(outside, "passwords")}`,
      `l 0/0 dir-link -> ${join(outside, "tree")}`,
      "l 0/0 relative-link -> ../../etc/hostname",
    ]);
    expect(tar.includes("root:secret")).toBe(false);
    expect(tar.includes("inner")).toBe(false);
  });

  it("round-trips contents, modes and long names through GNU tar", async () => {
    const long = `${"deep/".repeat(30)}${"n".repeat(120)}.txt`; // > 256 bytes: needs PAX
    const medium = `${"m".repeat(90)}/${"f".repeat(60)}.txt`; // > 100 bytes: ustar prefix
    const big = Buffer.alloc(200_000, 7);
    write({
      Dockerfile: "FROM scratch\n",
      [long]: "long\n",
      [medium]: "medium\n",
      "ünïcode.txt": "u",
    });
    writeFileSync(join(dir, "big.bin"), big);
    execFileSync("chmod", ["0755", join(dir, "Dockerfile")]);
    const out = mkdtempSync(join(tmpdir(), "skiff-extract-"));
    try {
      execFileSync("tar", ["-xf", "-", "-C", out], { input: await archive() });
      expect(readFileSync(join(out, long), "utf8")).toBe("long\n");
      expect(readFileSync(join(out, medium), "utf8")).toBe("medium\n");
      expect(readFileSync(join(out, "ünïcode.txt"), "utf8")).toBe("u");
      expect(readFileSync(join(out, "big.bin")).equals(big)).toBe(true);
      expect(
        execFileSync("stat", ["-c", "%a", join(out, "Dockerfile")])
          .toString()
          .trim(),
      ).toBe("755");
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("gives the same bytes for the same tree", async () => {
    write({ Dockerfile: "FROM scratch\n", "b.txt": "b", "a/c.txt": "c" });
    expect((await archive()).equals(await archive())).toBe(true);
  });

  it.each([
    ["a missing context", () => listBuildContext(join(tmpdir(), "skiff-no-such-dir-x"))],
    ["a missing Dockerfile", () => listBuildContext(dir)],
    [
      "a Dockerfile outside the context",
      () => listBuildContext(dir, { dockerfile: "../Dockerfile" }),
    ],
  ])("rejects %s with a ValidationError", async (_name, run) => {
    await expect(run()).rejects.toThrow(ValidationError);
  });
});

describe("contextRelativeDockerfile", () => {
  it.each([
    ["Dockerfile", "Dockerfile"],
    ["./docker//Dockerfile.prod", "docker/Dockerfile.prod"],
    ["docker\\Dockerfile", "docker/Dockerfile"],
  ])("%s → %s", (input, expected) => {
    expect(contextRelativeDockerfile(input)).toBe(expected);
  });

  it.each(["../Dockerfile", "/etc/Dockerfile", "a/../../Dockerfile", "."])(
    "rejects %s",
    (input) => {
      expect(() => contextRelativeDockerfile(input)).toThrow(ValidationError);
    },
  );
});

describe("tar headers", () => {
  it("computes PAX record lengths that count their own digits", () => {
    expect(paxRecords({ path: "a" })).toBe("9 path=a\n");
    const value = "x".repeat(90); // body 97 bytes: 2 digits would make 99, fits
    expect(paxRecords({ path: value })).toBe(`99 path=${value}\n`);
    const longer = "x".repeat(92); // body 99: needs 3 digits → 102
    expect(paxRecords({ path: longer })).toBe(`102 path=${longer}\n`);
  });

  it("writes one 512-byte block for a short name and PAX blocks for a long one", () => {
    const entry = { type: "file" as const, mode: 0o644, size: 5, mtime: 0 };
    expect(entryHeader({ ...entry, path: "a.txt" })).toHaveLength(512);
    expect(entryHeader({ ...entry, path: "x".repeat(300) })).toHaveLength(512 * 3);
  });
});
