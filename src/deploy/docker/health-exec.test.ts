import { describe, expect, it } from "vitest";
import { healthTestCommand } from "./health-exec.js";

describe("healthTestCommand", () => {
  it.each([
    [
      ["CMD", "pg_isready", "-U", "app"],
      ["pg_isready", "-U", "app"],
    ],
    [
      ["CMD-SHELL", "curl -f http://127.0.0.1/ || exit 1"],
      ["/bin/sh", "-c", "curl -f http://127.0.0.1/ || exit 1"],
    ],
    [["NONE"], undefined],
    [["CMD"], undefined],
    [[], undefined],
    [undefined, undefined],
  ])("%j runs %j", (test, command) => {
    expect(healthTestCommand(test)).toEqual(command);
  });

  it("runs CMD-SHELL through the image's SHELL when it has one", () => {
    expect(healthTestCommand(["CMD-SHELL", "test -f /ok"], ["/bin/bash", "-c"])).toEqual([
      "/bin/bash",
      "-c",
      "test -f /ok",
    ]);
    expect(healthTestCommand(["CMD", "true"], ["/bin/bash", "-c"])).toEqual(["true"]);
  });
});
