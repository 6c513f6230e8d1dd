import type { InjectOptions } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import type { ReleaseRecord } from "../../state/runs.js";
import { buildTestServer, specOf, type TestServer, unreachableObject } from "../test-server.js";
import type { ProcessControl } from "./processes.js";
import {
  chooseRollbackTarget,
  type RollbackCandidate,
  type RollbackChoice,
  toReleaseView,
} from "./releases.js";

/** Releases r1..rN with the given statuses, newest first as the store lists them. */
function history(...statuses: string[]): RollbackCandidate[] {
  return statuses.map((status, i) => ({ number: i + 1, status })).reverse();
}

/** The outcome as plain data: the target's number, or the refusal's status, message and hint. */
function outcome(choice: RollbackChoice<RollbackCandidate>) {
  return choice.ok
    ? { target: choice.target.number }
    : { status: choice.error.status, message: choice.error.message, hint: choice.error.hint };
}

describe("chooseRollbackTarget", () => {
  it.each([
    {
      name: "by default, the release live before the live one",
      releases: history("superseded", "superseded", "live"),
      live: 3,
      requested: undefined,
      force: false,
      expected: { target: 2 },
    },
    {
      name: "by default, skipping releases that failed or were never deployed",
      releases: history("superseded", "failed", "live", "published", "failed"),
      live: 3,
      requested: undefined,
      force: false,
      expected: { target: 1 },
    },
    {
      name: "by default, after a rollback: the release that the rollback replaced",
      // r3 was live, r4 rolled back to r2 and is live now.
      releases: history("superseded", "superseded", "superseded", "live"),
      live: 4,
      requested: undefined,
      force: false,
      expected: { target: 3 },
    },
    {
      name: "a named release that served",
      releases: history("superseded", "superseded", "live"),
      live: 3,
      requested: 1,
      force: false,
      expected: { target: 1 },
    },
    {
      name: "a named failed release with force",
      releases: history("superseded", "failed", "live"),
      live: 3,
      requested: 2,
      force: true,
      expected: { target: 2 },
    },
    {
      name: "no live release",
      releases: history("failed", "published"),
      live: undefined,
      requested: 1,
      force: true,
      expected: {
        status: 409,
        message: "shop has no live release to roll back from",
        hint: "deploy one first (git push, or skiff deploy)",
      },
    },
    {
      name: "nothing served before the live release",
      releases: history("failed", "live"),
      live: 2,
      requested: undefined,
      force: false,
      expected: {
        status: 409,
        message:
          "no release of shop before the live r2 has served, so there is nothing to roll back to",
        hint: "skiff releases shop lists them; name one with skiff rollback shop N (--force for one that never served)",
      },
    },
    {
      name: "a release that does not exist",
      releases: history("superseded", "live"),
      live: 2,
      requested: 7,
      force: true,
      expected: {
        status: 400,
        message: "shop has no release r7",
        hint: "skiff releases shop lists them",
      },
    },
    {
      name: "the live release itself, even with force",
      releases: history("superseded", "live"),
      live: 2,
      requested: 2,
      force: true,
      expected: {
        status: 409,
        message: "r2 is already the live release of shop",
        hint: "name an earlier release (skiff releases shop), or restart it with skiff restart shop",
      },
    },
    {
      name: "a failed release without force",
      releases: history("superseded", "failed", "live"),
      live: 3,
      requested: 2,
      force: false,
      expected: {
        status: 409,
        message: "r2 of shop failed to deploy and never served",
        hint: "deploy it anyway with skiff rollback shop 2 --force",
      },
    },
    {
      name: "a published release that never went live, without force",
      releases: history("superseded", "published", "live"),
      live: 3,
      requested: 2,
      force: false,
      expected: {
        status: 409,
        message: "r2 of shop was never live (it is published)",
        hint: "deploy it anyway with skiff rollback shop 2 --force",
      },
    },
  ])("$name", ({ releases, live, requested, force, expected }) => {
    expect(
      outcome(chooseRollbackTarget({ app: "shop", releases, live, requested, force })),
    ).toEqual(expected);
  });
});

describe("toReleaseView", () => {
  it("keeps what `skiff releases` shows and leaves the spec (and build keys) on the server", () => {
    const release: ReleaseRecord = {
      id: 9,
      app: "shop",
      number: 4,
      runId: 12,
      commit: "0123456789abcdef0123",
      trigger: "rollback",
      status: "live",
      spec: { services: { web: { environment: { API_KEY: "secret" } } } },
      createdAt: "2025-01-02T03:04:05.000Z",
      rollbackOf: 2,
      images: [
        {
          service: "web",
          image: "127.0.0.1:5000/shop/web:r2",
          digest: "sha256:abc",
          buildKey: "k",
        },
      ],
    };
    expect(toReleaseView(release)).toEqual({
      number: 4,
      commit: "0123456789abcdef0123",
      trigger: "rollback",
      status: "live",
      createdAt: "2025-01-02T03:04:05.000Z",
      rollbackOf: 2,
      images: [{ service: "web", image: "127.0.0.1:5000/shop/web:r2", digest: "sha256:abc" }],
    });
  });
});

const SPEC = specOf("services:\n  web:\n    image: example/web\n    x-skiff: { port: 8080 }\n");

describe("release routes", () => {
  const servers: TestServer[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
  });

  /** A server on a real migrated database; the deploy stage makes the release live. */
  function build(options: { engine?: boolean } = {}) {
    const deployed: number[] = [];
    const built = buildTestServer({
      stages: ({ deployments }) => ({
        deploy: async (ctx, number) => {
          deployed.push(number);
          deployments.setLive(ctx.app, number);
          return "deployed";
        },
      }),
      ...(options.engine === false ? {} : { deployer: unreachableObject<ProcessControl>() }),
    });
    servers.push(built);
    /** Records a release as a push would; `live` makes it the live one. */
    const release = (status: "live" | "failed" | "published", commit: string) =>
      built.release(SPEC, status, commit);
    /** Asks for a rollback of shop with the admin token. */
    const rollback = (payload: InjectOptions["payload"]) =>
      built.request("POST", "/api/v1/apps/shop/rollback", payload);
    return { ...built, release, rollback, deployed };
  }

  it("lists releases newest first with the live one, without their specs", async () => {
    const { request, release } = build();
    release("live", "aaaa");
    release("live", "bbbb");
    release("failed", "cccc");
    const response = await request("GET", "/api/v1/apps/shop/releases");
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.live).toBe(2);
    expect(
      body.releases.map((r: { number: number; status: string }) => [r.number, r.status]),
    ).toEqual([
      [3, "failed"],
      [2, "live"],
      [1, "superseded"],
    ]);
    expect(body.releases[0]).not.toHaveProperty("spec");
    expect(body.releases[0].images).toEqual([
      { service: "web", image: "127.0.0.1:5000/shop/web:cccc", digest: "sha256:cccc" },
    ]);
  });

  it("lists no live release when none is live", async () => {
    const { request } = build();
    const response = await request("GET", "/api/v1/apps/shop/releases");
    expect(response.json()).toEqual({ releases: [] });
  });

  it.each([
    ["GET", "/api/v1/apps/nope/releases"],
    ["POST", "/api/v1/apps/nope/rollback"],
  ] as const)("answers 404 for an unknown app: %s %s", async (method, url) => {
    const { request } = build();
    const response = await request(method, url, {});
    expect(response.statusCode).toBe(404);
    expect(response.json().error).toEqual({
      code: "not_found",
      message: 'no app named "nope"',
      hint: "list the apps with `skiff apps`",
    });
  });

  it.each([
    ["GET", "/api/v1/apps/shop/releases"],
    ["POST", "/api/v1/apps/shop/rollback"],
  ] as const)("answers 401 without a token: %s %s", async (method, url) => {
    const { server } = build();
    const response = await server.inject({ method, url, payload: {} });
    expect(response.statusCode).toBe(401);
  });

  it("rolls back to the release live before: a new release with its images, deployed through the pipeline", async () => {
    const { rollback, runs, deployments, pipeline, release, deployed } = build();
    release("live", "aaaa");
    release("live", "bbbb");
    const response = await rollback({});
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({ run: 3, rollbackTo: 1 });
    await pipeline.idle();
    const run = runs.getRunByNumber("shop", 3);
    expect(run).toMatchObject({
      trigger: "rollback",
      commit: "aaaa",
      status: "succeeded",
      releaseNumber: 3,
    });
    expect(deployed).toEqual([3]);
    expect(deployments.desired("shop").release).toBe(3);
    expect(runs.getReleaseByNumber("shop", 3)).toMatchObject({
      rollbackOf: 1,
      trigger: "rollback",
      status: "live",
      images: [{ service: "web", digest: "sha256:aaaa" }],
    });
  });

  it("rolls back to a failed release only with force", async () => {
    const { rollback, pipeline, release } = build();
    release("live", "aaaa");
    release("failed", "bbbb");
    const refused = await rollback({ release: 2 });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.message).toBe("r2 of shop failed to deploy and never served");
    const forced = await rollback({ release: 2, force: true });
    expect(forced.statusCode).toBe(202);
    expect(forced.json()).toEqual({ run: 3, rollbackTo: 2 });
    await pipeline.idle();
  });

  it.each([
    [{ release: "two" }, 400, 'release "two" is not a release number'],
    [{ release: 0 }, 400, "release 0 is not a release number"],
    [{ release: 1.5 }, 400, "release 1.5 is not a release number"],
    [{ force: "yes" }, 400, 'force "yes" is not true or false'],
    [[1], 400, "the rollback body must be a JSON object"],
    [{ release: 9 }, 400, "shop has no release r9"],
    [{ release: 2 }, 409, "r2 is already the live release of shop"],
  ])("refuses the rollback body %j with %i", async (payload, status, message) => {
    const { rollback, release } = build();
    release("live", "aaaa");
    release("live", "bbbb");
    const response = await rollback(payload);
    expect({ status: response.statusCode, message: response.json().error.message }).toEqual({
      status,
      message,
    });
    expect(response.json().error.hint).toBeTruthy();
  });

  it("refuses a rollback when nothing is live", async () => {
    const { rollback, release } = build();
    release("failed", "aaaa");
    const response = await rollback({ release: 1, force: true });
    expect(response.statusCode).toBe(409);
    expect(response.json().error.message).toBe("shop has no live release to roll back from");
  });

  it("answers 502 to a rollback on a server without a deploy engine", async () => {
    const { rollback } = build({ engine: false });
    const response = await rollback({});
    expect(response.statusCode).toBe(502);
    expect(response.json().error.code).toBe("dependency_failed");
  });
});
