import { describe, expect, it } from "vitest";
import { splitCommand } from "./shell-words.js";

describe("splitCommand", () => {
  it.each([
    ["npm start", ["npm", "start"]],
    ["  spaced   out\targs\n", ["spaced", "out", "args"]],
    [`sh -c 'echo "hi" && exit 1'`, ["sh", "-c", 'echo "hi" && exit 1']],
    [`echo "a \\"b\\" \\$HOME c\\d"`, ["echo", 'a "b" $HOME c\\d']],
    ["a\\ b c", ["a b", "c"]],
    [`say ""`, ["say", ""]],
    ["x'y'\"z\"", ["xyz"]],
    ["", []],
  ])("%j", (text, argv) => {
    expect(splitCommand(text)).toEqual({ ok: true, argv });
  });

  it.each([
    ["a && b", "&&"],
    ["a | b", "|"],
    ["a; b", ";"],
    ["a > out.log", ">"],
    ["echo `date`", "`"],
  ])("%j is refused: it needs a shell", (text, op) => {
    expect(splitCommand(text)).toEqual({
      ok: false,
      error: `\`${op}\` needs a shell, and the string form of a command runs without one (as in Compose); write it as a list: ["sh", "-c", ${JSON.stringify(text)}]`,
    });
  });

  it("an unterminated quote is an error", () => {
    expect(splitCommand(`echo "hi`)).toEqual({
      ok: false,
      error: `unterminated " quote in "echo \\"hi"`,
    });
  });
});
