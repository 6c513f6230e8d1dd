import { describe, expect, it } from "vitest";
import { baseImagesOf } from "./dockerfile-bases.js";

describe("baseImagesOf", () => {
  const cases: [string, string, Record<string, string>, string[] | undefined][] = [
    [
      "one FROM",
      "FROM 127.0.0.1:5000/bases/node:bookworm\nRUN true\n",
      {},
      ["127.0.0.1:5000/bases/node:bookworm"],
    ],
    [
      "stages refer to earlier stages and scratch",
      "FROM base:1 AS deps\nRUN x\nFROM deps AS test\nFROM scratch\nCOPY --from=deps / /\n",
      {},
      ["base:1"],
    ],
    ["stage names are case-insensitive", "FROM a:1 as Build\nFROM build\n", {}, ["a:1"]],
    ["--platform is not the image", "FROM --platform=linux/amd64 a:1\n", {}, ["a:1"]],
    [
      "global ARG defaults and build args",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile syntax, not a template
      "ARG REG=127.0.0.1:5000\nARG TAG=bookworm\nFROM ${REG}/bases/node:$TAG\n",
      { TAG: "trixie" },
      ["127.0.0.1:5000/bases/node:trixie"],
    ],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile syntax, not a template
    ["quoted ARG default", 'ARG TAG="1"\nFROM a:${TAG}\n', {}, ["a:1"]],
    ["an ARG without a value leaves the image unknown", "ARG TAG\nFROM a:$TAG\n", {}, undefined],
    ["an ARG after FROM does not reach FROM", "FROM a:1\nARG T=2\nFROM b:$T\n", {}, undefined],
    ["continuations and comments", "# c\nFROM \\\n  a:1 \\\n  AS x\n", {}, ["a:1"]],
    ["no FROM at all", "RUN true\n", {}, undefined],
    ["the same base twice is listed once", "FROM a:1 AS x\nFROM a:1\n", {}, ["a:1"]],
  ];
  it.each(cases)("%s", (_name, dockerfile, args, expected) => {
    expect(baseImagesOf(dockerfile, args)).toEqual(expected);
  });
});
