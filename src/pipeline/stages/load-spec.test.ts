import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { StageFailure } from "../stage-failure.js";
import { loadRunSpec } from "./load-spec.js";

const COMPOSE = `
services:
  web:
    build: ./web
    environment:
      GREETING: \${GREETING:-Hello}
      MODE: spec
    x-skiff: { port: 3000 }
  db:
    image: mariadb:11
    environment:
      MARIADB_ROOT_PASSWORD: \${DB_PASSWORD:?set it with skiff config:set}
`;

describe("loadRunSpec with the app's config", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const tree = (compose: string, dotEnv?: string) => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-load-spec-"));
    dirs.push(dir);
    mkdirSync(join(dir, "web"));
    writeFileSync(join(dir, "web", "Dockerfile"), "FROM scratch\n");
    writeFileSync(join(dir, "compose.yaml"), compose);
    if (dotEnv !== undefined) writeFileSync(join(dir, ".env"), dotEnv);
    return dir;
  };

  it("interpolates config over .env over defaults, and puts app-wide vars only into built services", () => {
    const dir = tree(COMPOSE, "GREETING=from-env\nDB_PASSWORD=env-pw\n");
    const { plan } = loadRunSpec("shop", dir, () => {}, {
      app: { GREETING: "from $config", MODE: "config", EXTRA: "x" },
      services: { db: { TZ: "UTC" } },
    });
    const env = (name: string) => plan.services.find((s) => s.name === name)?.container.environment;
    expect(env("web")).toEqual({ GREETING: "from $config", MODE: "config", EXTRA: "x" });
    expect(env("db")).toEqual({ MARIADB_ROOT_PASSWORD: "env-pw", TZ: "UTC" });
  });

  it("fails the run with the name of a required variable that is not set", () => {
    const dir = tree(COMPOSE);
    let failure: unknown;
    try {
      loadRunSpec("shop", dir, () => {});
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(StageFailure);
    expect((failure as StageFailure).details.join("\n")).toContain(
      "required variable DB_PASSWORD is not set: set it with skiff config:set",
    );
  });

  it("says so when the config has vars for a service the spec lacks", () => {
    const lines: string[] = [];
    loadRunSpec("shop", tree(COMPOSE), (line) => lines.push(line), {
      app: { DB_PASSWORD: "pw" },
      services: { worker: { A: "1" } },
    });
    expect(lines.join("\n")).toContain("vars for service worker, which the spec does not define");
  });

  it("refuses a secret config var as a build arg, without its value", () => {
    const compose = `services:
  web:
    build:
      context: ./web
      args: [NPM_TOKEN]
    x-skiff: { port: 3000 }
`;
    let failure: unknown;
    try {
      loadRunSpec("shop", tree(compose), () => {}, {
        app: { NPM_TOKEN: "npm-s3cret-token" },
        services: {},
        secret: ["NPM_TOKEN"],
      });
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(StageFailure);
    const details = (failure as StageFailure).details.join("\n");
    expect(details).toContain("services.web.build.args.NPM_TOKEN would carry the secret NPM_TOKEN");
    expect(details).not.toContain("npm-s3cret-token");
  });

  it("names the values of Compose secrets, from the tree or the config, for the log to scrub", () => {
    const compose = `services:
  web:
    build: ./web
    x-skiff: { port: 3000 }
    secrets: [db_password, api_key]
secrets:
  db_password:
    file: ./db_password.txt
  api_key:
    environment: API_KEY
`;
    const dir = tree(compose);
    writeFileSync(join(dir, "db_password.txt"), "from-a-file\n");
    const { secrets } = loadRunSpec("shop", dir, () => {}, {
      app: { API_KEY: "key-from-config" },
      services: {},
    });
    expect(secrets).toEqual([
      { name: "db_password", value: "from-a-file\n" },
      { name: "db_password", value: "from-a-file" },
      { name: "api_key", value: "key-from-config" },
    ]);
  });

  it("refuses a secret config var in an image's name, without its value", () => {
    const compose = `services:
  web:
    build: ./web
    x-skiff: { port: 3000 }
  db:
    image: "registry.example/db:\${DB_TAG}"
`;
    let failure: unknown;
    try {
      loadRunSpec("shop", tree(compose), () => {}, {
        app: { DB_TAG: "tag-s3cret-value" },
        services: {},
        secret: ["DB_TAG"],
      });
    } catch (error) {
      failure = error;
    }
    const details = (failure as StageFailure).details.join("\n");
    expect(details).toContain("services.db.image would carry the secret DB_TAG to the registry");
    expect(details).not.toContain("tag-s3cret-value");
  });
});
