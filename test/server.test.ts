import type { ChildProcess } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  answers,
  createSandbox,
  destroySandbox,
  readToken,
  type SkiffSandbox,
  skiff,
  startForegroundServer,
  waitFor,
} from "./support/skiff-harness.js";

interface StatusJson {
  version: string;
  ok: boolean;
  components: Record<string, { up: boolean; version?: string; pid?: number; error?: string }>;
}

function pidOf(sandbox: SkiffSandbox, name: "registry" | "edge"): number {
  return Number(readFileSync(join(sandbox.home, "run", `${name}.pid`), "utf8"));
}

/** Alive and not a zombie: an orphan's exit is only collected when init gets to it. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function edgeAnswers404(sandbox: SkiffSandbox): Promise<boolean> {
  const response = await answers(`http://127.0.0.1:${sandbox.edgePort}/`, {
    headers: { host: "nothing-here.localhost" },
  });
  return response?.status === 404 && (await response.text()).includes("Skiff");
}

async function registryAnswers(sandbox: SkiffSandbox): Promise<boolean> {
  return (await answers(`${sandbox.registryUrl}/v2/`))?.status === 200;
}

describe("skiff server with its registry and edge", () => {
  let sandbox: SkiffSandbox;
  let server: ChildProcess | undefined;

  beforeAll(async () => {
    sandbox = await createSandbox();
    server = await startForegroundServer(sandbox);
  });
  afterAll(async () => {
    await destroySandbox(sandbox, server);
  });

  it("starts the real registry and HAProxy and reports every component up", async () => {
    const result = await skiff(sandbox, ["status", "--json"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout) as StatusJson;
    expect(status.ok).toBe(true);
    expect(status.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(status.components.docker).toMatchObject({
      up: true,
      version: expect.stringMatching(/^\d+\.\d+/),
    });
    expect(status.components.registry).toMatchObject({
      up: true,
      version: expect.stringContaining("Distribution 2."),
    });
    expect(status.components.edge).toMatchObject({
      up: true,
      version: expect.stringContaining("HAProxy 2."),
    });
    expect(status.components.database).toMatchObject({
      up: true,
      version: expect.stringContaining("SQLite"),
    });

    const table = await skiff(sandbox, ["status"]);
    expect(table.stdout).toMatch(/registry\s+up/);
    expect(table.stdout).toMatch(/edge\s+up/);
  });

  it("serves a 404 page naming Skiff for unknown hosts, and the stats page on 127.0.0.1", async () => {
    expect(await edgeAnswers404(sandbox)).toBe(true);
    const stats = await answers(`http://127.0.0.1:${sandbox.statsPort}/`);
    expect(stats?.status).toBe(200);
    expect(await stats?.text()).toContain("HAProxy");
  });

  it("writes the admin token once, mode 0600, and stores only its hash", async () => {
    const token = readToken(sandbox);
    expect(token).toMatch(/^skiff_[A-Za-z0-9_-]{40,}$/);
    expect(statSync(join(sandbox.home, "admin-token")).mode & 0o777).toBe(0o600);
    const db = new Database(join(sandbox.home, "skiff.db"), { readonly: true });
    const dump = JSON.stringify(db.prepare("SELECT * FROM admin_tokens").all());
    db.close();
    expect(dump).not.toContain(token);
    expect(dump).toMatch(/"token_hash":"[0-9a-f]{64}"/);
    expect(readFileSync(join(sandbox.home, "skiff.db")).includes(token)).toBe(false);
  });

  it("answers 401 to a wrong token through the real HTTP server", async () => {
    const response = await fetch(`${sandbox.apiUrl}/api/v1/status`, {
      headers: { authorization: "Bearer skiff_wrong" },
    });
    expect(response.status).toBe(401);
    const cli = await skiff(sandbox, ["apps"], { SKIFF_TOKEN: "skiff_wrong" });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain("the bearer token is not valid");
  });

  it("restarts a data-plane process that dies, and records the event", async () => {
    const before = pidOf(sandbox, "edge");
    process.kill(before, "SIGKILL");
    await waitFor("a new edge process", async () => {
      try {
        return pidOf(sandbox, "edge") !== before && (await edgeAnswers404(sandbox));
      } catch {
        return false;
      }
    });
    const events = await skiff(sandbox, ["events", "--json"]);
    const list = JSON.parse(events.stdout) as { component: string; kind: string }[];
    expect(list.filter((e) => e.component === "edge").map((e) => e.kind)).toEqual(
      expect.arrayContaining(["died", "restarted"]),
    );
  });

  it("leaves the registry and the edge serving when the server is killed, and adopts them on restart", async () => {
    const registryPid = pidOf(sandbox, "registry");
    const edgePid = pidOf(sandbox, "edge");
    server?.kill("SIGKILL");
    await waitFor("the server to die", () => server?.signalCode === "SIGKILL");
    expect((await answers(`${sandbox.apiUrl}/api/v1/healthz`)) === undefined).toBe(true);
    expect(await registryAnswers(sandbox)).toBe(true);
    expect(await edgeAnswers404(sandbox)).toBe(true);

    server = await startForegroundServer(sandbox);
    expect(pidOf(sandbox, "registry")).toBe(registryPid);
    expect(pidOf(sandbox, "edge")).toBe(edgePid);
    const events = JSON.parse((await skiff(sandbox, ["events", "--json"])).stdout) as {
      component: string;
      kind: string;
    }[];
    expect(
      events
        .slice(0, 2)
        .map((e) => `${e.component} ${e.kind}`)
        .sort(),
    ).toEqual(["edge adopted", "registry adopted"]);
  });

  it("stops the control plane alone with `server stop`, and the data plane too with --all", async () => {
    server?.kill("SIGTERM");
    await waitFor("the foreground server to exit", () => server?.exitCode !== null);
    expect(server?.exitCode).toBe(0);
    server = undefined;

    const started = await skiff(sandbox, ["server", "start"]);
    expect(started.code).toBe(0);
    expect(started.stdout).toContain("skiff server started");
    const again = await skiff(sandbox, ["server", "start"]);
    expect(again.stdout).toContain("already runs");

    const stop = await skiff(sandbox, ["server", "stop"]);
    expect(stop.stdout).toContain("skiff server stopped");
    expect(await registryAnswers(sandbox)).toBe(true);
    expect(await edgeAnswers404(sandbox)).toBe(true);
    const status = await skiff(sandbox, ["server", "status"]);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain("not running");

    const registryPid = pidOf(sandbox, "registry");
    const edgePid = pidOf(sandbox, "edge");
    const stopAll = await skiff(sandbox, ["server", "stop", "--all"]);
    expect(stopAll.stdout).toContain("edge stopped");
    expect(stopAll.stdout).toContain("registry stopped");
    expect(alive(registryPid)).toBe(false);
    expect(alive(edgePid)).toBe(false);
  });
});
