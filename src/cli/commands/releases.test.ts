import { describe, expect, it } from "vitest";
import { ExitError } from "../../errors.js";
import type { ReleasesAnswer } from "../../server/api/releases.js";
import { table } from "../output.js";
import { parseReleaseArgument, releaseRows, shortAge, shortDuration } from "./releases.js";

describe("shortDuration", () => {
  it.each([
    [0, "0s"],
    [5.9, "5s"],
    [59, "59s"],
    [60, "1m"],
    [3599, "59m"],
    [3600, "1h"],
    [86_399, "23h"],
    [86_400, "1d"],
    [4 * 86_400 + 7200, "4d"],
    [-3, "0s"],
  ])("%d seconds is %s", (seconds, expected) => {
    expect(shortDuration(seconds)).toBe(expected);
  });
});

describe("shortAge", () => {
  const now = new Date("2025-03-01T12:00:00.000Z");
  it.each([
    ["2025-03-01T11:59:55.000Z", "5s"],
    ["2025-03-01T11:57:00.000Z", "3m"],
    ["2025-03-01T10:00:00.000Z", "2h"],
    ["2025-02-25T12:00:00.000Z", "4d"],
    // A clock a little ahead on the server is not a negative age.
    ["2025-03-01T12:00:02.000Z", "0s"],
  ])("%s is %s before", (iso, expected) => {
    expect(shortAge(iso, now)).toBe(expected);
  });
});

describe("parseReleaseArgument", () => {
  it.each([
    ["3", 3],
    ["r3", 3],
    ["R12", 12],
    [" r7 ", 7],
  ])("reads %j as %d", (text, expected) => {
    expect(parseReleaseArgument(text)).toBe(expected);
  });

  it.each(["", "0", "r0", "v3", "3.5", "-1", "r", "latest", "99999999999999999999"])(
    "refuses %j as a usage error naming it",
    (text) => {
      let error: unknown;
      try {
        parseReleaseArgument(text);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ExitError);
      expect((error as ExitError).exitCode).toBe(2);
      expect((error as ExitError).message).toContain(`"${text}" is not a release number`);
    },
  );
});

describe("releaseRows", () => {
  const now = new Date("2025-03-01T12:00:00.000Z");
  const answer: ReleasesAnswer = {
    live: 4,
    releases: [
      {
        number: 5,
        commit: "ffffffffffffffffffffffffffffffffffffffff",
        trigger: "git-push",
        actor: "ci-shop",
        status: "failed",
        createdAt: "2025-03-01T11:59:55.000Z",
        images: [
          {
            service: "web",
            image: "127.0.0.1:5000/shop/web:r5",
            digest: "sha256:5555555555555555555555555555555555555555555555555555555555555555",
          },
        ],
      },
      {
        number: 4,
        commit: "1111111111111111111111111111111111111111",
        trigger: "rollback",
        actor: "admin",
        status: "live",
        createdAt: "2025-03-01T11:57:00.000Z",
        rollbackOf: 2,
        images: [
          {
            service: "web",
            image: "127.0.0.1:5000/shop/web:r2",
            digest: "sha256:2222222222222222222222222222222222222222222222222222222222222222",
          },
          {
            service: "worker",
            image: "127.0.0.1:5000/shop/worker:r2",
            digest: "sha256:abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd",
          },
        ],
      },
      {
        number: 3,
        trigger: "upload",
        status: "superseded",
        createdAt: "2025-02-25T12:00:00.000Z",
        images: [],
      },
    ],
  };

  it("marks the live release, shortens commits and digests, and names a rollback's source", () => {
    expect(releaseRows(answer, now)).toEqual([
      ["r5", "ffffffffffff", "failed", "git-push", "ci-shop", "5s", "web@555555555555"],
      [
        "r4 (live)",
        "111111111111",
        "live",
        "rollback to r2",
        "admin",
        "3m",
        "web@222222222222, worker@abcdefabcdef",
      ],
      ["r3", undefined, "superseded", "upload", undefined, "4d", undefined],
    ]);
  });

  it("renders as a table with a dash for what a release lacks", () => {
    expect(
      table(
        ["RELEASE", "COMMIT", "STATUS", "TRIGGER", "BY", "AGE", "IMAGES"],
        releaseRows(answer, now),
      ),
    ).toBe(
      [
        "RELEASE    COMMIT        STATUS      TRIGGER         BY       AGE  IMAGES",
        "r5         ffffffffffff  failed      git-push        ci-shop  5s   web@555555555555",
        "r4 (live)  111111111111  live        rollback to r2  admin    3m   web@222222222222, worker@abcdefabcdef",
        "r3         -             superseded  upload          -        4d   -",
      ].join("\n"),
    );
  });
});
