import { describe, expect, it } from "vitest";
import { isDaemonAnswer, isGone, unless } from "./errors.js";

const answer = (statusCode: number) =>
  Object.assign(new Error(`HTTP ${statusCode}`), { statusCode });

describe("daemon answers", () => {
  it.each([
    [304, ["notModified"], true],
    [404, ["notModified"], false],
    [404, ["noSuchObject", "inProgress"], true],
    [409, ["noSuchObject", "inProgress"], true],
    [500, ["noSuchObject", "inProgress", "notModified"], false],
  ] as const)("%i matches %j: %s", (status, answers, expected) => {
    expect(isDaemonAnswer(answer(status), ...answers)).toBe(expected);
  });

  it("a socket error is never an answer", () => {
    const refused = Object.assign(new Error("connect ENOENT /run/docker.sock"), { code: "ENOENT" });
    expect(isGone(refused)).toBe(false);
    expect(() => unless("noSuchObject")(refused)).toThrow("ENOENT");
  });

  it("unless swallows what it names and rethrows the rest", () => {
    expect(unless("noSuchObject")(answer(404))).toBeUndefined();
    expect(() => unless("noSuchObject")(answer(500))).toThrow("HTTP 500");
  });
});
