import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TREE_TEXT_LIMIT_BYTES } from "../spec/tree.js";
import { SourceTree } from "./tree.js";

// A host directory with a secret beside the tree, the way $SKIFF_HOME sits
// beside the work directories commits are exported into.
let host: string;
let root: string;

beforeEach(() => {
  host = realpathSync(mkdtempSync(join(tmpdir(), "skiff-tree-")));
  root = join(host, "work", "run-1");
  mkdirSync(root, { recursive: true });
  writeFileSync(join(host, "admin-token"), "skiff_secret\n");
  file("compose.yaml", "services: {}\n");
  file("web/Dockerfile", "FROM scratch\n");
});

afterEach(() => {
  rmSync(host, { recursive: true, force: true });
});

function file(path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

function link(path: string, target: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  symlinkSync(target, join(root, path));
}

describe("SourceTree.kind", () => {
  it.each<[string, [string, string][], string, string]>([
    ["a file", [], "compose.yaml", "file"],
    ["a directory", [], "web", "directory"],
    ["the root", [], ".", "directory"],
    ["a missing file", [], "nope.env", "missing"],
    ["a path through a file", [], "compose.yaml/x", "missing"],
    ["a relative link inside", [["alias.yaml", "compose.yaml"]], "alias.yaml", "file"],
    ["a link to a directory inside", [["app", "web"]], "app/Dockerfile", "file"],
    ["a link up and back in", [["web/up", "../compose.yaml"]], "web/up", "file"],
    [
      "a chain of links inside",
      [
        ["a", "b"],
        ["b", "compose.yaml"],
      ],
      "a",
      "file",
    ],
    ["a dangling link inside", [["gone", "missing.txt"]], "gone", "missing"],
    ["a relative link out", [["token", "../../admin-token"]], "token", "outside"],
    ["a link out through a directory", [["home", "../.."]], "home/admin-token", "outside"],
    ["a link out, named as a directory", [["home", "../.."]], "home", "outside"],
    ["an absolute link out", [["env", "/proc/self/environ"]], "env", "outside"],
    ["an absolute link to /", [["rootfs", "/"]], "rootfs/etc/passwd", "outside"],
    ["a dangling link out", [["x", "/no/such/file"]], "x", "outside"],
    ["a link in a subdirectory out", [["d/e", "../../../admin-token"]], "d/e", "outside"],
    ["a .. out of the tree", [], "../../admin-token", "outside"],
    ["a .. that stays inside", [], "web/../compose.yaml", "file"],
    ["an absolute path", [], "/etc/passwd", "outside"],
    [
      "a loop of links",
      [
        ["l1", "l2"],
        ["l2", "l1"],
      ],
      "l1",
      "other",
    ],
  ])("%s", (_what, links, path, kind) => {
    for (const [from, to] of links) link(from, to);
    expect(new SourceTree(root).kind(path)).toBe(kind);
  });

  it("follows an absolute link that names the tree's own place on disk", () => {
    link("abs", join(root, "compose.yaml"));
    expect(new SourceTree(root).kind("abs")).toBe("file");
  });

  it("calls a name the file system cannot hold missing, without naming where the tree is", () => {
    const tree = new SourceTree(root);
    expect(tree.kind("a".repeat(300))).toBe("missing");
    expect(tree.kind("web\0/Dockerfile")).toBe("missing");
  });

  it("calls a FIFO other, so nothing ever waits on it", () => {
    execFileSync("mkfifo", [join(root, "pipe")]);
    const tree = new SourceTree(root);
    expect(tree.kind("pipe")).toBe("other");
    expect(tree.readText("pipe")).toBeUndefined();
  });
});

describe("SourceTree.readText", () => {
  it("reads a file inside, through links inside", () => {
    link("alias.yaml", "compose.yaml");
    expect(new SourceTree(root).readText("alias.yaml")).toBe("services: {}\n");
  });

  it("never reads what a link out of the tree names", () => {
    link("token", "../../admin-token");
    link("home", "../..");
    const tree = new SourceTree(root);
    expect(tree.readText("token")).toBeUndefined();
    expect(tree.readText("home/admin-token")).toBeUndefined();
  });

  it("refuses a file larger than the limit", () => {
    file("big.env", "A=1\n".repeat(TREE_TEXT_LIMIT_BYTES / 4 + 1));
    expect(new SourceTree(root).readText("big.env")).toBeUndefined();
  });
});

describe("SourceTree.directory", () => {
  it("gives the real path of a directory inside", () => {
    link("app", "web");
    expect(new SourceTree(root).directory("app", "build context")).toBe(join(root, "web"));
  });

  it("refuses a directory out of the tree without naming where it leads", () => {
    link("home", "../..");
    expect(() => new SourceTree(root).directory("home", "build context")).toThrow(
      /^build context "home" leads outside the repository/,
    );
    try {
      new SourceTree(root).directory("home", "build context");
    } catch (error) {
      expect(String(error)).not.toContain(host);
    }
  });
});
