import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DependencyError, ValidationError } from "../errors.js";
import { debootstrapHint, importQuery } from "./base-image.js";
import { CommandError, LineThrottle, runCommand } from "./command.js";
import {
  assertSuite,
  cleanAptCaches,
  debootstrapArgs,
  mountsUnder,
  normalisePackages,
  prerequisiteProblem,
  rootfsTarArgs,
} from "./debootstrap.js";

describe("debootstrapArgs", () => {
  it.each([
    [
      "packages on top of minbase",
      ["ca-certificates", "nodejs"],
      [
        "--variant=minbase",
        "--include=ca-certificates,nodejs",
        "bookworm",
        "/w/rootfs",
        "http://deb.debian.org/debian",
      ],
    ],
    [
      "minbase alone",
      [],
      ["--variant=minbase", "bookworm", "/w/rootfs", "http://deb.debian.org/debian"],
    ],
  ])("%s", (_name, packages, expected) => {
    expect(
      debootstrapArgs({
        packages,
        suite: "bookworm",
        target: "/w/rootfs",
        mirror: "http://deb.debian.org/debian",
      }),
    ).toEqual(expected);
  });
});

describe("normalisePackages and assertSuite", () => {
  it("sorts and de-duplicates package names", () => {
    expect(normalisePackages(["nodejs", "ca-certificates", "nodejs", "libstdc++6"])).toEqual([
      "ca-certificates",
      "libstdc++6",
      "nodejs",
    ]);
  });

  it.each(["Nodejs", "node js", "--include=evil", "a", "x;rm -rf /"])(
    "rejects the package %j",
    (name) => {
      expect(() => normalisePackages([name])).toThrow(ValidationError);
    },
  );

  it.each(["Bookworm", "../x", ""])("rejects the suite %j", (suite) => {
    expect(() => assertSuite(suite)).toThrow(ValidationError);
  });
});

describe("rootfsTarArgs", () => {
  it("tars the tree with numeric owners and empty /dev, /proc, /sys", () => {
    expect(rootfsTarArgs("/w/rootfs")).toEqual([
      "--numeric-owner",
      "--exclude=./dev/*",
      "--exclude=./proc/*",
      "--exclude=./sys/*",
      "-C",
      "/w/rootfs",
      "-cf",
      "-",
      ".",
    ]);
  });
});

describe("importQuery", () => {
  it("tags the image and sets its labels and command through changes", () => {
    expect(
      importQuery({
        repository: "127.0.0.1:5000/bases/node",
        tag: "bookworm",
        packages: ["ca-certificates", "nodejs"],
        suite: "bookworm",
        built: "2025-05-20T10:00:00.000Z",
      }),
    ).toEqual({
      fromSrc: "-",
      repo: "127.0.0.1:5000/bases/node",
      tag: "bookworm",
      message: "skiff base image: debootstrap --variant=minbase bookworm + ca-certificates,nodejs",
      changes: [
        'LABEL skiff.base.packages="ca-certificates,nodejs" skiff.base.suite="bookworm" skiff.base.built="2025-05-20T10:00:00.000Z"',
        'CMD ["bash"]',
      ],
    });
  });
});

describe("prerequisiteProblem", () => {
  it.each([
    [{ uid: 0, debootstrap: "/usr/sbin/debootstrap" }, undefined],
    [{ uid: 1000, debootstrap: "/usr/sbin/debootstrap" }, "needs root"],
    [{ uid: undefined, debootstrap: "/usr/sbin/debootstrap" }, "needs root"],
    [{ uid: 0, debootstrap: undefined }, "needs debootstrap"],
  ])("%j → %s", (facts, problem) => {
    const error = prerequisiteProblem(facts);
    if (problem === undefined) expect(error).toBeUndefined();
    else {
      expect(error).toBeInstanceOf(DependencyError);
      expect(error?.message).toContain(problem);
      expect(error?.hint).toBeTruthy();
    }
  });
});

describe("debootstrapHint", () => {
  const mirror = "http://deb.debian.org/debian";
  it.each([
    ["E: Couldn't find these debs: nodejss", "not in http://deb.debian.org/debian"],
    ["E: Failed getting release file http://x/dists/bookworm/Release", "Release file"],
    ["tar: write error: No space left on device", "disk is full"],
    ["something else", "debootstrap.log"],
  ])("%s", (line, hint) => {
    expect(debootstrapHint([line], mirror, ["nodejss"])).toContain(hint);
  });
});

describe("cleanAptCaches", () => {
  it("empties the package cache and lists, keeping the directories apt expects", async () => {
    const root = mkdtempSync(join(tmpdir(), "skiff-rootfs-"));
    try {
      const files = [
        "var/cache/apt/archives/bash_5.2.deb",
        "var/cache/apt/archives/partial/half.deb",
        "var/cache/apt/archives/lock",
        "var/cache/apt/pkgcache.bin",
        "var/cache/apt/srcpkgcache.bin",
        "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
        "var/lib/apt/lists/lock",
        "etc/apt/sources.list",
      ];
      for (const file of files) {
        mkdirSync(join(root, file, ".."), { recursive: true });
        writeFileSync(join(root, file), "x");
      }
      await cleanAptCaches(root);
      expect(readdirSync(join(root, "var/cache/apt/archives")).sort()).toEqual(["lock", "partial"]);
      expect(readdirSync(join(root, "var/cache/apt/archives/partial"))).toEqual([]);
      expect(readdirSync(join(root, "var/cache/apt")).sort()).toEqual(["archives"]);
      expect(readdirSync(join(root, "var/lib/apt/lists")).sort()).toEqual(["lock", "partial"]);
      expect(readdirSync(join(root, "etc/apt"))).toEqual(["sources.list"]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("mountsUnder", () => {
  it("finds mount points at or under a directory, longest first, decoding octal escapes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-mounts-"));
    try {
      const mounts = join(dir, "mounts");
      writeFileSync(
        mounts,
        [
          "proc /proc proc rw 0 0",
          "proc /w/base-1/rootfs/proc proc rw 0 0",
          "sysfs /w/base-1/rootfs/sys sysfs rw 0 0",
          "devpts /w/base-1/rootfs/dev/pts devpts rw 0 0",
          "tmpfs /w/base-10 tmpfs rw 0 0",
          "tmpfs /w/base-1/with\\040space tmpfs rw 0 0",
        ].join("\n"),
      );
      expect(await mountsUnder("/w/base-1", mounts)).toEqual([
        // longest first, so a mount inside another is unmounted before it
        "/w/base-1/rootfs/dev/pts",
        "/w/base-1/rootfs/proc",
        "/w/base-1/rootfs/sys",
        "/w/base-1/with space",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("runCommand", () => {
  it("passes lines on as they come and resolves on exit 0", async () => {
    const lines: string[] = [];
    await runCommand("sh", ["-c", "echo one; echo two >&2; printf three"], {
      onLine: (line, stream) => lines.push(`${stream}:${line}`),
    });
    expect(lines.sort()).toEqual(["stderr:two", "stdout:one", "stdout:three"]);
  });

  it("fails with the exit code, the stderr tail and the hint", async () => {
    const error = await runCommand(
      "sh",
      ["-c", "for i in $(seq 1 30); do echo err$i >&2; done; exit 3"],
      {
        hint: (code) => `hint for ${code}`,
      },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandError);
    const failure = error as CommandError;
    expect(failure.exitCode).toBe(3);
    expect(failure.stderrTail).toHaveLength(20);
    expect(failure.stderrTail.at(-1)).toBe("err30");
    expect(failure.message).toContain("exited with code 3");
    expect(failure.hint).toBe("hint for 3");
  });

  it("reports a program that is not installed", async () => {
    const error = (await runCommand("skiff-no-such-program", []).catch(
      (e: unknown) => e,
    )) as CommandError;
    expect(error).toBeInstanceOf(CommandError);
    expect(error.exitCode).toBeNull();
    expect(error.message).toContain("ENOENT");
  });
});

describe("LineThrottle", () => {
  it("passes one informational line per interval with the count skipped, warnings at once", () => {
    const out: Array<[string, number]> = [];
    let now = 0;
    const throttle = new LineThrottle(
      (text, skipped) => out.push([text, skipped]),
      1000,
      () => now,
    );
    const feed: Array<[number, string]> = [
      [0, "I: Retrieving InRelease"],
      [100, "I: Retrieving adduser"],
      [200, "I: Retrieving apt"],
      [300, "W: Retrying failed download of bash"],
      [400, "I: Retrieving bash"],
      [1500, "I: Validating bash"],
      [1600, "I: Unpacking the base system..."],
      [1700, "I: Base system installed successfully."],
    ];
    for (const [at, line] of feed) {
      now = at;
      throttle.add(line);
    }
    throttle.flush();
    expect(out).toEqual([
      ["I: Retrieving InRelease", 0],
      ["I: Retrieving apt", 1],
      ["W: Retrying failed download of bash", 0],
      ["I: Validating bash", 1],
      ["I: Base system installed successfully.", 1],
    ]);
  });
});
