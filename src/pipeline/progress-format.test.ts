import { describe, expect, it } from "vitest";
import { formatRunEvent } from "./progress-format.js";

const at = "2026-11-26T10:00:00.000Z";

describe("formatRunEvent", () => {
  it.each([
    [{ seq: 1, at, type: "run", status: "queued" }, "-----> queued"],
    [{ seq: 2, at, type: "run", status: "running" }, undefined],
    [{ seq: 3, at, type: "stage", stage: "build", status: "running" }, "-----> build"],
    [
      {
        seq: 4,
        at,
        type: "log",
        stage: "build",
        service: "web",
        text: "#6 [2/3] RUN npm ci CACHED",
      },
      "       [web] #6 [2/3] RUN npm ci CACHED",
    ],
    [
      { seq: 5, at, type: "log", stage: "source", text: "commit 0123abcd" },
      "       commit 0123abcd",
    ],
    [
      { seq: 6, at, type: "stage", stage: "build", status: "succeeded", durationMs: 3210 },
      "-----> build succeeded in 3.2s",
    ],
    [{ seq: 7, at, type: "stage", stage: "test", status: "failed" }, "-----> test failed"],
    [
      {
        seq: 8,
        at,
        type: "run",
        status: "failed",
        reason: "test failed: web: `npm test` exited with 1",
      },
      "=====> run failed: test failed: web: `npm test` exited with 1",
    ],
    [{ seq: 9, at, type: "run", status: "succeeded" }, "=====> run succeeded"],
  ] as const)("%j → %j", (event, line) => {
    expect(formatRunEvent(event)).toBe(line);
  });
});
