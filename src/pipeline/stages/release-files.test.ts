import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SourceTree } from "../../source/tree.js";
import type { Plan, PlanService } from "../../spec/index.js";
import type { PlanFile } from "../../spec/types.js";
import { StageFailure } from "../stage-failure.js";
import { collectReleaseFiles, RELEASE_FILES_LIMIT_BYTES } from "./release-files.js";

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "skiff-release-files-"));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function write(path: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text, { mode });
}

function planWith(files: PlanFile[]): Plan {
  const service = { name: "web", container: { files } } as unknown as PlanService;
  return { app: "shop", services: [service], tests: [], volumes: [] };
}

/** The archive as `tar -tv` lists it: mode, owner and path of each entry, and each file's text. */
function listing(archive: Buffer): { entries: string[]; texts: Record<string, string> } {
  const file = join(root, "..", `${root.split("/").pop()}.tar`);
  writeFileSync(file, archive);
  try {
    const entries = execFileSync("tar", ["-tvf", file, "--numeric-owner"], { encoding: "utf8" })
      .trim()
      .split("\n")
      .map((line) => {
        const [mode, owner, , , , path] = line.split(/\s+/);
        return `${mode} ${owner} ${path}`;
      });
    const texts: Record<string, string> = {};
    for (const entry of entries) {
      const path = entry.split(" ")[2] as string;
      if (entry.startsWith("-")) {
        texts[path] = execFileSync("tar", ["-xOf", file, path], { encoding: "utf8" });
      }
    }
    return { entries, texts };
  } finally {
    rmSync(file, { force: true });
  }
}

function collect(files: PlanFile[], env: Record<string, string> = {}) {
  return collectReleaseFiles({ tree: new SourceTree(root), plan: planWith(files), env });
}

describe("collectReleaseFiles", () => {
  it("puts binds, secrets and configs at their targets with their modes and owners", () => {
    write("nginx.conf", "worker_processes 1;\n", 0o640);
    write("conf.d/site.conf", "server {}\n");
    write("conf.d/extra/more.conf", "# more\n");
    write("secrets/db.txt", "s3cret\n");
    const { web } = collect(
      [
        {
          origin: "bind",
          name: "./nginx.conf",
          target: "/etc/nginx/nginx.conf",
          source: { type: "tree", path: "nginx.conf", kind: "file" },
        },
        {
          origin: "bind",
          name: "./conf.d",
          target: "/etc/nginx/conf.d",
          source: { type: "tree", path: "conf.d", kind: "directory" },
        },
        {
          origin: "secret",
          name: "db_password",
          target: "/run/secrets/db_password",
          mode: 0o400,
          uid: "999",
          gid: "999",
          source: { type: "tree", path: "secrets/db.txt", kind: "file" },
        },
        {
          origin: "secret",
          name: "api_key",
          target: "/run/secrets/api_key",
          source: { type: "environment", variable: "API_KEY" },
        },
        {
          origin: "config",
          name: "motd",
          target: "/etc/motd",
          source: { type: "content", content: "hello\n" },
        },
      ],
      { API_KEY: "k=1:$x" },
    );
    const { entries, texts } = listing(web as Buffer);
    expect(entries).toEqual([
      "-rw-r----- 0/0 etc/nginx/nginx.conf",
      "drwxr-xr-x 0/0 etc/nginx/conf.d/",
      "drwxr-xr-x 0/0 etc/nginx/conf.d/extra/",
      "-rw-r--r-- 0/0 etc/nginx/conf.d/extra/more.conf",
      "-rw-r--r-- 0/0 etc/nginx/conf.d/site.conf",
      "-r-------- 999/999 run/secrets/db_password",
      "-r--r--r-- 0/0 run/secrets/api_key",
      "-r--r--r-- 0/0 etc/motd",
    ]);
    expect(texts).toEqual({
      "etc/nginx/nginx.conf": "worker_processes 1;\n",
      "etc/nginx/conf.d/extra/more.conf": "# more\n",
      "etc/nginx/conf.d/site.conf": "server {}\n",
      "run/secrets/db_password": "s3cret\n",
      "run/secrets/api_key": "k=1:$x",
      "etc/motd": "hello\n",
    });
  });

  it("gives the same files the same bytes, whenever they are read", () => {
    write("nginx.conf", "worker_processes 1;\n");
    const file: PlanFile = {
      origin: "bind",
      name: "./nginx.conf",
      target: "/etc/nginx/nginx.conf",
      source: { type: "tree", path: "nginx.conf", kind: "file" },
    };
    vi.useFakeTimers({ now: new Date("2026-01-01T00:00:00Z") });
    try {
      const first = collect([file]).web as Buffer;
      vi.setSystemTime(new Date("2026-06-01T00:00:00Z"));
      utimesSync(join(root, "nginx.conf"), new Date(), new Date());
      expect((collect([file]).web as Buffer).equals(first)).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("gives services without files no archive", () => {
    expect(collect([])).toEqual({});
  });

  it.each<[string, () => PlanFile, RegExp]>([
    [
      "a secret file linked out of the tree",
      () => {
        symlinkSync("/etc/passwd", join(root, "leak"));
        return {
          origin: "secret",
          name: "leak",
          target: "/run/secrets/leak",
          source: { type: "tree", path: "leak", kind: "file" },
        };
      },
      /services\.web secret "leak" \(\/run\/secrets\/leak\): "leak" leads outside the repository/,
    ],
    [
      "a variable that is not set",
      () => ({
        origin: "secret",
        name: "k",
        target: "/run/secrets/k",
        source: { type: "environment", variable: "NOPE" },
      }),
      /the variable NOPE is not set/,
    ],
    [
      "a user name as uid",
      () => {
        write("x", "x");
        return {
          origin: "secret",
          name: "x",
          target: "/run/secrets/x",
          uid: "www-data",
          source: { type: "tree", path: "x", kind: "file" },
        };
      },
      /uid must be a number \(got "www-data"\)/,
    ],
  ])("refuses %s, naming it", (_what, arrange, message) => {
    const file = arrange();
    let failure: unknown;
    try {
      collect([file]);
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(StageFailure);
    const text = [(failure as StageFailure).message, ...(failure as StageFailure).details].join(
      "\n",
    );
    expect(text).toMatch(message);
    expect(text).not.toContain("root:x:0:0");
  });

  it("puts links of a bound directory in as links, never following them", () => {
    mkdirSync(join(root, "conf"));
    write("conf/real.conf", "x\n");
    symlinkSync("real.conf", join(root, "conf", "alias.conf"));
    symlinkSync("..", join(root, "conf", "up"));
    symlinkSync("/etc/shadow", join(root, "conf", "host"));
    const { web } = collect([
      {
        origin: "bind",
        name: "./conf",
        target: "/conf",
        source: { type: "tree", path: "conf", kind: "directory" },
      },
    ]);
    const { entries, texts } = listing(web as Buffer);
    expect(entries).toEqual([
      "drwxr-xr-x 0/0 conf/",
      "lrwxrwxrwx 0/0 conf/alias.conf",
      "lrwxrwxrwx 0/0 conf/host",
      "-rw-r--r-- 0/0 conf/real.conf",
      "lrwxrwxrwx 0/0 conf/up",
    ]);
    expect(texts).toEqual({ "conf/real.conf": "x\n" });
  });

  it("refuses more bytes than a release carries", () => {
    write("big.bin", "x".repeat(RELEASE_FILES_LIMIT_BYTES + 1));
    expect(() =>
      collect([
        {
          origin: "bind",
          name: "./big.bin",
          target: "/big",
          source: { type: "tree", path: "big.bin", kind: "file" },
        },
      ]),
    ).toThrow(StageFailure);
  });
});
