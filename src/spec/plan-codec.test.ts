import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadSpec } from "./load.js";
import { memoryTree } from "./memory-tree.js";
import { parseSpec } from "./parse.js";
import { type Plan, toPlan } from "./plan.js";
import { decodePlan, encodePlan, PLAN_VERSION } from "./plan-codec.js";

const CORPUS = fileURLToPath(new URL("./fixtures/corpus/", import.meta.url));
const EXAMPLES = fileURLToPath(new URL("../../examples/", import.meta.url));

// Every repository path and variable some file of the corpus needs (see
// corpus.test.ts, which gives each file its own): with all of them, every
// file the corpus accepts parses here too.
const tree = memoryTree({
  files: {
    Dockerfile: "FROM scratch\n",
    ".env.example": "DATABASE_URL=sqlite:///db.sqlite3\n",
    "app.env": "PORT=3000\n",
    "app/Dockerfile": "",
    "backend/Dockerfile": "",
    Caddyfile: "",
    "db/password.txt": "",
    "docker/php/Dockerfile": "",
    "frontend/Dockerfile": "",
    "grafana/datasource.yml": "",
    "init.sql": "",
    "mosquitto/config/mosquitto.conf": "",
    "nginx.conf": "",
    "nginx/default.conf": "",
    "prometheus/prometheus.yml": "",
    "proxy/nginx.conf": "",
    "publisher/Dockerfile": "",
    "secrets/db_password.txt": "",
    "src/Dockerfile": "",
    "web/Dockerfile": "",
    "worker/Dockerfile": "",
  },
  directories: ["public", "site"],
});
const env = { API_KEY: "k", BOT_TOKEN: "t" };
/** The files corpus.test.ts expects refused, whatever the tree: every other one must round-trip. */
const REFUSED = [
  "10-traefik-docker-sock.yaml",
  "23-portainer-docker-sock.yaml",
  "28-jellyfin-devices.yaml",
  "38-external-secret.yaml",
  "41-multi-document.yaml",
  "44-extends-no-image.yaml",
  "45-anchor-error-repeated.yaml",
  "50-extends-other-file.yaml",
  "51-external-network.yaml",
  "53-whole-file-token.yaml",
];

function corpusPlans(): [string, Plan][] {
  return readdirSync(CORPUS)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .flatMap((file): [string, Plan][] => {
      const text = readFileSync(`${CORPUS}${file}`, "utf8");
      const result = parseSpec(text, { fileName: "compose.yaml", env, tree });
      return result.ok ? [[file, toPlan(result.spec, "app")]] : [];
    });
}

function examplePlans(): [string, Plan][] {
  return readdirSync(EXAMPLES, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d): [string, Plan] => {
      const result = loadSpec(`${EXAMPLES}${d.name}`);
      if (!result.ok) throw new Error(`examples/${d.name} does not parse`);
      return [`examples/${d.name}`, toPlan(result.spec, "app")];
    });
}

const plans = [...corpusPlans(), ...examplePlans()];

/** A plan with every optional field of every type set, and each union's every branch. */
const full: Plan = {
  app: "shop",
  services: [
    {
      name: "web",
      kind: "web",
      source: {
        type: "build",
        context: "web",
        dockerfile: "Dockerfile",
        target: "runtime",
        args: { NODE_ENV: "production" },
        tag: "shop/web",
      },
      replicas: 2,
      routes: [{ domain: "shop.example.com", port: 3000 }],
      health: {
        type: "http",
        port: 3000,
        path: "/healthz",
        host: "shop.example.com",
        intervalMs: 2000,
        retries: 3,
        deadlineMs: 30_000,
      },
      dependsOn: [{ service: "db", condition: "service_healthy" }],
      update: { order: "start-first", failureAction: "rollback" },
      container: {
        command: ["node", "server.js"],
        entrypoint: ["/sbin/tini", "--"],
        environment: { PORT: "3000" },
        user: "1000:1000",
        workingDir: "/app",
        labels: { team: "shop" },
        limits: { cpus: 0.5, memoryBytes: 268_435_456, pids: 256 },
        stopGracePeriodMs: 15_000,
        volumes: [],
        port: 3000,
        files: [
          {
            origin: "bind",
            name: "nginx.conf",
            target: "/etc/nginx/nginx.conf",
            source: { type: "tree", path: "nginx.conf", kind: "file" },
          },
          {
            origin: "secret",
            name: "api_key",
            target: "/run/secrets/api_key",
            mode: 0o440,
            uid: "1000",
            gid: "1000",
            source: { type: "environment", variable: "API_KEY" },
          },
          {
            origin: "config",
            name: "settings",
            target: "/settings.json",
            mode: 0o444,
            source: { type: "content", content: "{}" },
          },
        ],
        ephemeralVolumes: ["/tmp/cache"],
        tmpfs: { "/run": "size=65536,mode=1777" },
        restart: { policy: "on-failure", maxRetries: 5 },
        init: true,
        stopSignal: "SIGQUIT",
        readOnly: true,
        capDrop: ["ALL"],
        noNewPrivileges: true,
        shmSizeBytes: 134_217_728,
        ulimits: [{ name: "nofile", soft: 1024, hard: 2048 }],
        hostname: "web-host",
        aliases: ["frontend"],
      },
      autoscale: { min: 2, max: 6, cpuPercent: 70 },
      budget: { imageBytes: 150_000_000 },
    },
    {
      name: "db",
      kind: "stateful",
      source: { type: "image", image: "postgres:16" },
      replicas: 1,
      routes: [],
      health: {
        type: "docker",
        test: ["CMD-SHELL", "pg_isready"],
        intervalMs: 5000,
        timeoutMs: 3000,
        retries: 5,
        startPeriodMs: 10_000,
        deadlineMs: 50_000,
      },
      dependsOn: [],
      update: { order: "stop-first", failureAction: "pause" },
      container: {
        environment: {},
        labels: {},
        limits: {},
        stopGracePeriodMs: 10_000,
        volumes: [
          { source: "pgdata", target: "/var/lib/postgresql/data", readOnly: false, noCopy: true },
        ],
      },
      budget: {},
    },
    {
      name: "worker",
      kind: "worker",
      source: { type: "image", image: "shop/worker" },
      replicas: 1,
      routes: [],
      health: { type: "running", stableMs: 5000 },
      dependsOn: [{ service: "db", condition: "service_started" }],
      update: { order: "start-first", failureAction: "continue" },
      container: {
        environment: {},
        labels: {},
        limits: {},
        stopGracePeriodMs: 10_000,
        volumes: [],
      },
    },
  ],
  tests: [
    { service: "web", run: "npm test" },
    { service: "web", run: "npm run lint", cache: false },
  ],
  volumes: ["pgdata"],
};

/** The stored text of `full` with `edit` applied to its plan. */
function storedWith(edit: (plan: Record<string, unknown>) => void): string {
  const stored = JSON.parse(encodePlan(full)) as { plan: Record<string, unknown> };
  edit(stored.plan);
  return JSON.stringify(stored);
}

describe("encodePlan and decodePlan", () => {
  it("store the plan with its version", () => {
    expect(PLAN_VERSION).toBe(1);
    expect(JSON.parse(encodePlan(full))).toEqual({ version: 1, plan: full });
  });

  it("read back a plan with every optional field and every branch of each union", () => {
    expect(decodePlan(encodePlan(full))).toStrictEqual(full);
  });

  it("read back the plan of every spec of the corpus and of the examples", () => {
    const read = new Set(plans.map(([name]) => name));
    const skipped = readdirSync(CORPUS).filter((f) => f.endsWith(".yaml") && !read.has(f));
    expect(skipped.sort()).toEqual(REFUSED);
    expect(read.size).toBeGreaterThanOrEqual(40);
    for (const [name, plan] of plans) {
      expect(decodePlan(encodePlan(plan)), name).toStrictEqual(plan);
    }
  });

  it("the corpus exercises each kind of source, health check and file", () => {
    const services = plans.flatMap(([, plan]) => plan.services);
    expect(new Set(services.map((s) => s.source.type))).toEqual(new Set(["build", "image"]));
    expect(new Set(services.map((s) => s.health.type))).toEqual(
      new Set(["http", "docker", "running"]),
    );
    const files = services.flatMap((s) => s.container.files ?? []);
    expect(new Set(files.map((f) => f.source.type))).toEqual(
      new Set(["tree", "environment", "content"]),
    );
  });

  it("drop keys no Plan has", () => {
    const text = storedWith((plan) => {
      plan.note = "from a hand-edited row";
    });
    expect(decodePlan(text)).toStrictEqual(full);
  });
});

describe("decodePlan refuses", () => {
  const damaged =
    "the stored row is damaged; redeploy the app (a push, or skiff rollback to a release whose plan reads) to store a fresh plan";

  it("a plan from a newer Skiff, saying to upgrade", () => {
    expect(() => decodePlan(JSON.stringify({ version: 2, plan: full }))).toThrow(
      "stored plan has version 2, newer than this Skiff reads (1): it was stored by a newer Skiff; upgrade Skiff to deploy or roll back to this release",
    );
  });

  it("a version no Skiff writes, or none", () => {
    expect(() => decodePlan(JSON.stringify({ version: 0, plan: full }))).toThrow(
      `stored plan has version 0, which no Skiff writes: ${damaged}`,
    );
    expect(() => decodePlan(JSON.stringify(full))).toThrow(
      `stored plan has no version: ${damaged}`,
    );
  });

  it("text that is not JSON", () => {
    expect(() => decodePlan('{"version":1,"plan":')).toThrow(
      /^stored plan is not JSON \(.+\): the stored row is damaged; redeploy the app/,
    );
  });

  it("a missing required field, naming its path", () => {
    const text = storedWith((plan) => {
      delete (plan.services as Record<string, unknown>[])[1]?.update;
    });
    expect(() => decodePlan(text)).toThrow(
      `stored plan: services.1.update: Invalid input: expected object, received undefined: ${damaged}`,
    );
  });

  it("a wrong type deep inside the health check, naming its path", () => {
    const wrongTag = storedWith((plan) => {
      const [web] = plan.services as { health: Record<string, unknown> }[];
      if (web) web.health.type = "tcp";
    });
    expect(() => decodePlan(wrongTag)).toThrow(
      `stored plan: services.0.health.type: Invalid discriminator value. Expected 'http' | 'docker' | 'running': ${damaged}`,
    );
    const wrongField = storedWith((plan) => {
      const [web] = plan.services as { health: Record<string, unknown> }[];
      if (web) web.health.port = "3000";
    });
    expect(() => decodePlan(wrongField)).toThrow(
      `stored plan: services.0.health.port: Invalid input: expected number, received string: ${damaged}`,
    );
  });

  it("no more than three problems, counting the rest", () => {
    const text = storedWith((plan) => {
      plan.app = 1;
      plan.tests = "npm test";
      plan.volumes = {};
      plan.services = null;
    });
    expect(() => decodePlan(text)).toThrow(
      /^stored plan: app: .+; services: .+; tests: .+ \(and 1 more\): the stored row is damaged/,
    );
  });
});
