import { chmodSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type BuildInputs, buildInputsDigest } from "./build-inputs.js";

let dir: string;
let inputs: BuildInputs;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "skiff-inputs-"));
  writeFileSync(join(dir, "Dockerfile"), "FROM a:1\nCOPY . /app\n");
  writeFileSync(join(dir, "server.js"), "console.log(1)\n");
  writeFileSync(join(dir, ".dockerignore"), "notes.txt\n");
  inputs = {
    contextDir: dir,
    dockerfile: "Dockerfile",
    args: { A: "1" },
    bases: [{ image: "a:1", resolvedTo: "sha256:aaa" }],
  };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("buildInputsDigest", () => {
  it("is the same for the same inputs, whatever the files' modification times", async () => {
    const before = await buildInputsDigest(inputs);
    utimesSync(join(dir, "server.js"), new Date(0), new Date(0));
    expect(await buildInputsDigest(inputs)).toBe(before);
  });

  it("ignores files .dockerignore leaves out of the context", async () => {
    const before = await buildInputsDigest(inputs);
    writeFileSync(join(dir, "notes.txt"), "not sent to the builder\n");
    expect(await buildInputsDigest(inputs)).toBe(before);
  });

  const changes: [string, (i: BuildInputs) => BuildInputs | undefined][] = [
    ["a file's content", () => void writeFileSync(join(dir, "server.js"), "console.log(2)\n")],
    ["a new file", () => void writeFileSync(join(dir, "extra.js"), "")],
    ["a file's mode", () => void chmodSync(join(dir, "server.js"), 0o755)],
    ["a build arg", (i) => ({ ...i, args: { A: "2" } })],
    ["the target", (i) => ({ ...i, target: "test" })],
    [
      "what a base image resolves to",
      (i) => ({ ...i, bases: [{ image: "a:1", resolvedTo: "sha256:bbb" }] }),
    ],
  ];
  it.each(changes)("changes with %s", async (_what, change) => {
    const before = await buildInputsDigest(inputs);
    const changed = change(inputs) ?? inputs;
    expect(await buildInputsDigest(changed)).not.toBe(before);
  });
});
