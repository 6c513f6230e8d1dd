import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { type CliResult, SKIFF_BIN } from "./support/skiff-harness.js";

const EXAMPLE = fileURLToPath(new URL("../examples/shop", import.meta.url));

/** spec:check and spec:schema read files only: no server needed. */
function skiffOffline(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [SKIFF_BIN, ...args],
      { env: { ...process.env, ...env } },
      (error, stdout, stderr) =>
        resolve({
          code: error ? (typeof error.code === "number" ? error.code : 1) : 0,
          stdout,
          stderr,
        }),
    );
  });
}

describe("skiff spec:check and spec:schema", () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-spec-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints the plan of the bundled example: services in start order, routes, health checks, tests", async () => {
    const result = await skiffOffline(["spec:check", EXAMPLE]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Plan for app "shop"');
    expect(result.stdout).toMatch(/^api\s+worker\s+build api\s+1\s+-\s+CMD node/m);
    expect(result.stdout).toMatch(
      /^web\s+web\s+build web\s+2\s+shop\.localhost → :3000\s+GET \/healthz on :3000/m,
    );
    expect(result.stdout).toContain("web after api (service_healthy)");
    expect(result.stdout).toContain("web: node --test");
  });

  it("gives scripts the plan as JSON, with defaults resolved for the named app", async () => {
    const result = await skiffOffline(["spec:check", EXAMPLE, "--app", "store", "--json"]);
    const parsed = JSON.parse(result.stdout);
    expect(parsed.ok).toBe(true);
    const web = parsed.plan.services.find((s: { name: string }) => s.name === "web");
    expect(web.routes).toEqual([{ domain: "store.localhost", port: 3000 }]);
    expect(web.container.environment).toEqual({
      API_URL: "http://api:4000",
      GREETING: "Hello from Skiff",
    });
  });

  it("reports every problem at once with file, line and column, warnings too, and exits 1", async () => {
    const app = join(dir, "broken");
    rmSync(app, { recursive: true, force: true });
    mkdirSync(app);
    writeFileSync(
      join(app, "docker-compose.yml"),
      [
        "services:",
        "  web:",
        "    build: .",
        "    logging: { driver: syslog }",
        "    deploy:",
        "      replicas: two",
        "    x-skiff:",
        "      port: 0",
        "",
      ].join("\n"),
    );
    const result = await skiffOffline(["spec:check", app]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("warning: docker-compose.yml:4:5 services.web.logging:");
    expect(result.stderr).toContain(
      'error: docker-compose.yml:6:17 services.web.deploy.replicas: must be a whole number ≥ 0 (got "two")',
    );
    expect(result.stderr).toContain("error: docker-compose.yml:8:13 services.web.x-skiff.port:");
    expect(result.stderr).toContain(
      "2 problems in the spec; a push with it would stop before building anything",
    );

    const json = await skiffOffline(["spec:check", app, "--json"]);
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.ok).toBe(false);
    expect(parsed.errors.map((e: { line: number; column: number }) => [e.line, e.column])).toEqual([
      [6, 17],
      [8, 13],
    ]);
  });

  it("says which file names it looks for when there is no spec", async () => {
    const empty = join(dir, "empty");
    mkdirSync(empty, { recursive: true });
    const result = await skiffOffline(["spec:check", empty]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("compose.yaml");
    expect(result.stderr).toContain("docker-compose.yml");
  });

  it("prints a JSON Schema for x-skiff generated from the parser's schema", async () => {
    const result = await skiffOffline(["spec:schema"]);
    expect(result.code).toBe(0);
    const schema = JSON.stringify(JSON.parse(result.stdout));
    for (const key of ["port", "domains", "health", "autoscale", "budget", "test"]) {
      expect(schema).toContain(`"${key}"`);
    }
  });

  it("exits 2 on a usage error", async () => {
    const result = await skiffOffline(["spec:check", "--no-such-flag"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown option");
  });
});
