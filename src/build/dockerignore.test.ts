import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.js";
import { cleanPath, IgnoreMatcher, parseDockerignore, withBuildFilesKept } from "./dockerignore.js";

describe("parseDockerignore", () => {
  it.each([
    ["comments and blank lines are skipped", "# deps\n\nnode_modules\n", ["node_modules"]],
    ["whitespace is trimmed", "  dist  \n\t*.log\t\n", ["dist", "*.log"]],
    ["CRLF and a BOM", "\uFEFFa\r\nb\r\n", ["a", "b"]],
    ["a leading slash is dropped", "/build\n/\n", ["build", "/"]],
    ["patterns are cleaned", "./out/../dist/\na//b\n", ["dist", "a/b"]],
    ["exceptions keep their !", "*.md\n! README.md\n", ["*.md", "!README.md"]],
    ["a # later in the line is not a comment", "a#b\n", ["a#b"]],
    ["an indented # is a pattern, as in Docker", " #x\n", ["#x"]],
  ])("%s", (_name, text, expected) => {
    expect(parseDockerignore(text)).toEqual(expected);
  });
});

describe("IgnoreMatcher.excludes", () => {
  // [patterns, path, excluded]
  const table: Array<[string[], string, boolean]> = [
    [["secret.txt"], "secret.txt", true],
    [["secret.txt"], "dir/secret.txt", false],
    [["*.log"], "a.log", true],
    [["*.log"], "dir/a.log", false],
    [["**/*.log"], "a.log", true],
    [["**/*.log"], "dir/a.log", true],
    [["**/*.log"], "a/b/c.log", true],
    [["**/*.log"], "a.log.txt", false],
    [["node_modules"], "node_modules", true],
    [["node_modules"], "node_modules/x/y.js", true],
    [["node_modules"], "web/node_modules", false],
    [["**/node_modules"], "web/node_modules/x.js", true],
    [["dir/*"], "dir/a", true],
    [["dir/*"], "dir/a/b", true],
    [["dir/*"], "dir", false],
    [["docs/**"], "docs/a/b.md", true],
    [["docs/**"], "docs", false],
    [["**"], "anything/at/all", true],
    [["a/**/b"], "a/b", true],
    [["a/**/b"], "a/x/y/b", true],
    [["a/**/b"], "a/x/c", false],
    [["a?c"], "abc", true],
    [["a?c"], "a/c", false],
    [["[abc].txt"], "b.txt", true],
    [["[abc].txt"], "d.txt", false],
    [["[^abc].txt"], "d.txt", true],
    [["a.b"], "aXb", false],
    [["a.b"], "a.b", true],
    [["f(x)+"], "f(x)+", true],
    [["foo\\*bar"], "foo*bar", true],
    [["foo\\*bar"], "fooXbar", false],
    // the last matching pattern decides
    [["*.md", "!README.md"], "README.md", false],
    [["*.md", "!README.md"], "CHANGES.md", true],
    [["!README.md", "*.md"], "README.md", true],
    [["*.md", "!README.md", "README.md"], "README.md", true],
    // an exception can keep a file inside an excluded directory
    [["dir", "!dir/keep.txt"], "dir/keep.txt", false],
    [["dir", "!dir/keep.txt"], "dir/other.txt", true],
    [["dir", "!dir/keep.txt"], "dir", true],
    // patterns only ever match whole components
    [["build"], "builds", false],
    [["build"], "build/x", true],
  ];

  it.each(table)("%j on %s → excluded %s", (patterns, path, excluded) => {
    expect(new IgnoreMatcher(patterns).excludes(path)).toBe(excluded);
  });

  it("walks into an excluded directory only when an exception starts with its path", () => {
    const matcher = new IgnoreMatcher(["dir", "other", "!dir/keep.txt", "!**/keep.md"]);
    expect(matcher.hasExceptions).toBe(true);
    expect(matcher.mayKeepInside("dir")).toBe(true);
    // `**/keep.md` does not reach into excluded directories, as in Docker.
    expect(matcher.mayKeepInside("other")).toBe(false);
    expect(new IgnoreMatcher(["dir"]).hasExceptions).toBe(false);
  });

  it.each([["[abc"], ["!"], ["abc\\"]])("rejects the invalid pattern %j", (pattern) => {
    expect(() => new IgnoreMatcher([pattern]).excludes("x")).toThrow(ValidationError);
  });
});

describe("withBuildFilesKept", () => {
  it.each([
    ["nothing to keep", ["*.log"], "Dockerfile", ["*.log"]],
    ["everything excluded", ["*"], "Dockerfile", ["*", "!.dockerignore", "!Dockerfile"]],
    [
      "the Dockerfile in an excluded directory",
      ["docker"],
      "docker/Dockerfile.prod",
      ["docker", "!docker/Dockerfile.prod"],
    ],
    ["dotfiles", [".*"], "Dockerfile", [".*", "!.dockerignore"]],
  ])("%s", (_name, patterns, dockerfile, expected) => {
    expect(withBuildFilesKept(patterns, dockerfile)).toEqual(expected);
  });
});

describe("cleanPath", () => {
  it.each([
    ["", "."],
    ["a/./b/", "a/b"],
    ["a/../../b", "../b"],
    ["/", "/"],
    ["//a", "/a"],
  ])("%j → %j", (input, expected) => {
    expect(cleanPath(input)).toBe(expected);
  });
});
