import { afterEach, describe, expect, it } from "vitest";
import { buildTestServer, specOf, type TestServer, unreachableObject } from "../test-server.js";
import type { ProcessControl } from "./processes.js";

describe("config routes", () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("sets, reads and unsets vars byte for byte; with nothing live the change is only stored", async () => {
    server = buildTestServer();
    const value = "p@ss:w=rd $HOME 'q' \"dq\"\nline2 ü ✓";
    const set = await server.request("PATCH", "/api/v1/apps/shop/config", {
      set: { PASSWORD: value, EMPTY: "" },
    });
    expect(set.statusCode).toBe(200);
    expect(set.json()).toEqual({
      changed: ["PASSWORD", "EMPTY"],
      notSet: [],
      stored: "no release is live yet; the next push or deploy uses it",
    });
    const one = await server.request("GET", "/api/v1/apps/shop/config/PASSWORD");
    expect(one.json()).toEqual({ key: "PASSWORD", value, secret: false });
    await server.request("PATCH", "/api/v1/apps/shop/config", {
      set: { ROOT: "r" },
      service: "db",
    });
    expect(
      (await server.request("GET", "/api/v1/apps/shop/config/ROOT?service=db")).json(),
    ).toEqual({ key: "ROOT", value: "r", service: "db", secret: false });
    const unset = await server.request("PATCH", "/api/v1/apps/shop/config", {
      unset: ["EMPTY", "NOPE"],
    });
    expect(unset.json()).toMatchObject({ changed: ["EMPTY"], notSet: ["NOPE"] });
    expect((await server.request("GET", "/api/v1/apps/shop/config")).json()).toEqual({
      app: { PASSWORD: value },
      services: { db: { ROOT: "r" } },
      secret: [],
    });
    const gone = await server.request("GET", "/api/v1/apps/shop/config/EMPTY");
    expect(gone.statusCode).toBe(404);
    expect(gone.json().error.message).toBe("EMPTY is not set for shop");
  });

  it.each([
    [[], "must be a JSON object"],
    [{ set: { A: 1 } }, "the value of A must be a string"],
    [{ set: { A: "1" }, restart: "no" }, '"restart" must be true or false'],
    [{ unset: "A" }, '"unset" must be a list of keys'],
    [{ set: { A: "1" }, extra: true }, "unknown field extra"],
    [{ set: { "A-B": "1" } }, "not a valid config key"],
  ])("refuses %j with 400 (%s) and stores nothing", async (body, message) => {
    server = buildTestServer();
    const answer = await server.request("PATCH", "/api/v1/apps/shop/config", body);
    expect(answer.statusCode).toBe(400);
    expect(answer.json().error.message).toContain(message);
    expect((await server.request("GET", "/api/v1/apps/shop/config")).json()).toEqual({
      app: {},
      services: {},
      secret: [],
    });
  });

  it("answers 404 for an app that does not exist", async () => {
    server = buildTestServer();
    const answer = await server.request("PATCH", "/api/v1/apps/nope/config", { set: { A: "1" } });
    expect(answer.statusCode).toBe(404);
    expect((await server.request("GET", "/api/v1/apps/nope/config")).statusCode).toBe(404);
  });

  it("with a live release, starts a run from its commit; a commit gone from the repository fails it with what to do", async () => {
    server = buildTestServer({ deployer: unreachableObject<ProcessControl>() });
    server.release(specOf("services:\n  web:\n    image: web\n"), "live", "a".repeat(40));
    const answer = await server.request("PATCH", "/api/v1/apps/shop/config", { set: { A: "1" } });
    expect(answer.statusCode).toBe(202);
    const { run } = answer.json();
    await server.pipeline.idle();
    const record = server.runs.getRunByNumber("shop", run);
    expect(record).toMatchObject({ status: "failed", trigger: "config" });
    expect(record?.reason).toContain(
      `commit ${"a".repeat(12)} of r1 is no longer in shop's repository`,
    );
  });

  it("masks a secret unless asked with reveal, and never echoes a value in its answers", async () => {
    server = buildTestServer();
    const secret = "s3cr3t-p@ss:w=rd";
    const set = await server.request("PATCH", "/api/v1/apps/shop/config", {
      set: { DB_PASSWORD: secret },
      secret: true,
    });
    expect(set.statusCode).toBe(200);
    expect(set.body).not.toContain(secret);
    await server.request("PATCH", "/api/v1/apps/shop/config", { set: { PLAIN: "p" } });
    expect((await server.request("GET", "/api/v1/apps/shop/config")).json()).toEqual({
      app: { DB_PASSWORD: null, PLAIN: "p" },
      services: {},
      secret: ["DB_PASSWORD"],
    });
    const revealed = await server.request("GET", "/api/v1/apps/shop/config?reveal=true");
    expect(revealed.json().app.DB_PASSWORD).toBe(secret);
    const hidden = await server.request("GET", "/api/v1/apps/shop/config/DB_PASSWORD");
    expect(hidden.statusCode).toBe(403);
    expect(hidden.body).not.toContain(secret);
    expect(hidden.json().error.hint).toContain("--reveal");
    const asked = await server.request("GET", "/api/v1/apps/shop/config/DB_PASSWORD?reveal=1");
    expect(asked.json()).toEqual({ key: "DB_PASSWORD", value: secret, secret: true });
    // Set again without --secret, it stays a secret.
    await server.request("PATCH", "/api/v1/apps/shop/config", {
      set: { DB_PASSWORD: "an0ther-one" },
    });
    expect((await server.request("GET", "/api/v1/apps/shop/config")).json().app.DB_PASSWORD).toBe(
      null,
    );
    const short = await server.request("PATCH", "/api/v1/apps/shop/config", {
      set: { PIN: "123" },
      secret: true,
    });
    expect(short.statusCode).toBe(400);
    expect(short.json().error.message).toBe("the secret PIN is shorter than 4 characters");
    expect((await server.request("GET", "/api/v1/apps/shop/config?reveal=maybe")).statusCode).toBe(
      400,
    );
  });
});
