import { describe, expect, it } from "vitest";
import { memoryTree } from "./memory-tree.js";
import { parseSpec } from "./parse.js";
import { type Plan, type PlanHealth, type PlanService, toPlan } from "./plan.js";
import { formatProblem } from "./problem.js";
import type { AppSpec, ServiceSpec } from "./types.js";

function spec(text: string, env: Record<string, string> = {}): AppSpec {
  const result = parseSpec(text, { fileName: "compose.yaml", env });
  if (!result.ok) throw new Error(result.errors.map(formatProblem).join("\n"));
  return result.spec;
}

const byName = (plan: Plan, name: string): PlanService | undefined =>
  plan.services.find((s) => s.name === name);

describe("toPlan", () => {
  it("the design's example app", () => {
    const app = spec(`
services:
  web:
    build: ./web
    environment: { ORDERS_URL: http://orders:4000 }
    depends_on: [orders, redis]
    deploy:
      replicas: 2
      update_config: { order: start-first, failure_action: rollback }
    x-skiff:
      port: 3000
      domains: [shop.example.com]
      health: { path: /healthz, timeout: 30s }
      autoscale: { min: 2, max: 6, cpu: 70 }
      budget: { image: 150MB }
  orders:
    build: { context: ./orders, target: runtime }
    image: shop/orders
  redis:
    image: local/redis:7
    volumes: [redisdata:/data]
volumes:
  redisdata: {}
x-skiff:
  test:
    - { service: web, run: npm test }
`);
    const expected: Plan = {
      app: "shop",
      services: [
        {
          name: "orders",
          kind: "worker",
          source: {
            type: "build",
            context: "orders",
            dockerfile: "Dockerfile",
            target: "runtime",
            args: {},
            tag: "shop/orders",
          },
          replicas: 1,
          routes: [],
          health: { type: "running", stableMs: 5_000 },
          dependsOn: [],
          update: { order: "start-first", failureAction: "rollback" },
          container: {
            environment: {},
            labels: {},
            limits: {},
            stopGracePeriodMs: 10_000,
            volumes: [],
          },
        },
        {
          name: "redis",
          kind: "stateful",
          source: { type: "image", image: "local/redis:7" },
          replicas: 1,
          routes: [],
          health: { type: "running", stableMs: 5_000 },
          dependsOn: [],
          update: { order: "stop-first", failureAction: "rollback" },
          container: {
            environment: {},
            labels: {},
            limits: {},
            stopGracePeriodMs: 10_000,
            volumes: [{ source: "redisdata", target: "/data", readOnly: false }],
          },
        },
        {
          name: "web",
          kind: "web",
          source: { type: "build", context: "web", dockerfile: "Dockerfile", args: {} },
          replicas: 2,
          routes: [{ domain: "shop.example.com", port: 3000 }],
          health: {
            type: "http",
            port: 3000,
            path: "/healthz",
            host: "shop.example.com",
            intervalMs: 2_000,
            retries: 3,
            deadlineMs: 30_000,
          },
          dependsOn: [
            { service: "orders", condition: "service_started" },
            { service: "redis", condition: "service_started" },
          ],
          update: { order: "start-first", failureAction: "rollback" },
          container: {
            environment: { ORDERS_URL: "http://orders:4000" },
            labels: {},
            limits: {},
            stopGracePeriodMs: 10_000,
            volumes: [],
            port: 3000,
          },
          autoscale: { min: 2, max: 6, cpuPercent: 70 },
          budget: { imageBytes: 150 * 1024 * 1024 },
        },
      ],
      tests: [{ service: "web", run: "npm test" }],
      volumes: ["redisdata"],
    };
    expect(toPlan(app, "shop")).toEqual(expected);
  });

  it("the app's only service with a port gets <app>.localhost and a default HTTP check", () => {
    const plan = toPlan(
      spec(`
services:
  web:
    build: .
    command: [node, server.js]
    stop_grace_period: 30s
    x-skiff: { port: 8080 }
  worker:
    build: .
`),
      "blog",
    );
    const web = byName(plan, "web");
    expect(web?.kind).toBe("web");
    expect(web?.routes).toEqual([{ domain: "blog.localhost", port: 8080 }]);
    expect(web?.health).toEqual({
      type: "http",
      port: 8080,
      path: "/",
      host: "blog.localhost",
      intervalMs: 2_000,
      retries: 3,
      deadlineMs: 30_000,
    });
    expect(web?.container.command).toEqual(["node", "server.js"]);
    expect(web?.container.stopGracePeriodMs).toBe(30_000);
    expect(byName(plan, "worker")?.kind).toBe("worker");
    expect(byName(plan, "worker")?.routes).toEqual([]);
  });

  it("services with a port and no domains share out the app's addresses: the front door gets APP.localhost", () => {
    const plan = toPlan(
      spec(`
services:
  api:
    build: .
    ports: ["8000:8000"]
  web:
    build: .
    ports: ["80:3000"]
  admin_ui:
    image: adminer
    ports: ["8080:8080"]
  shop:
    build: .
    x-skiff: { port: 4000, domains: [shop.example.com] }
  db:
    image: postgres
    ports: ["5432:5432"]
`),
      "shop",
    );
    expect(plan.services.map((s) => [s.name, s.kind, s.routes])).toEqual([
      ["api", "web", [{ domain: "api.shop.localhost", port: 8000 }]],
      // Published on the host's port 80 in the Compose file: the app's front door.
      ["web", "web", [{ domain: "shop.localhost", port: 3000 }]],
      // An underscore is not valid in a host name.
      ["admin_ui", "web", [{ domain: "admin-ui.shop.localhost", port: 8080 }]],
      ["shop", "web", [{ domain: "shop.example.com", port: 4000 }]],
      // PostgreSQL's port is not HTTP: not routed.
      ["db", "worker", []],
    ]);
  });

  it("without a service on the host's port 80 or 443, the first with a port gets the default domain", () => {
    const plan = toPlan(
      spec(`
services:
  grafana:
    image: grafana/grafana
    ports: ["3000:3000"]
  prometheus:
    image: prom/prometheus
    ports: ["9090:9090"]
`),
      "mon",
    );
    expect(byName(plan, "grafana")?.routes).toEqual([{ domain: "mon.localhost", port: 3000 }]);
    expect(byName(plan, "prometheus")?.routes).toEqual([
      { domain: "prometheus.mon.localhost", port: 9090 },
    ]);
  });

  it("a spec stored before ports, files and runtime settings existed still plans", () => {
    const stored = spec(`
services:
  web:
    build: .
    x-skiff: { port: 3000 }
`);
    const old: AppSpec = JSON.parse(JSON.stringify(stored));
    const web = old.services.web as Partial<ServiceSpec>;
    delete web.ports;
    const plan = toPlan(old, "shop");
    expect(byName(plan, "web")?.routes).toEqual([{ domain: "shop.localhost", port: 3000 }]);
    expect(byName(plan, "web")?.container).toEqual({
      environment: {},
      labels: {},
      limits: {},
      stopGracePeriodMs: 10_000,
      volumes: [],
      port: 3000,
    });
  });

  it("refuses read_only and a tmpfs over a file with the files a release writes", () => {
    const result = parseSpec(
      `
services:
  web:
    image: app
    read_only: true
    tmpfs: [/run]
    secrets: [db_password]
secrets:
  db_password: { environment: DB_PASSWORD }
`,
      { fileName: "compose.yaml", env: { DB_PASSWORD: "x" } },
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map(formatProblem)).toEqual([
      "compose.yaml:5:16 services.web.read_only: cannot go with this service's binds, secrets or configs (/run/secrets/db_password): Skiff writes them into the container before it starts, which a read-only root file system refuses. Drop read_only, or COPY the files in the Dockerfile",
      "compose.yaml:6:12 services.web.tmpfs: /run would hide /run/secrets/db_password: a tmpfs is mounted over what the release put there. Mount the tmpfs elsewhere, or move the file's target",
    ]);
  });

  it("files, ephemeral volumes and runtime settings reach the container settings", () => {
    const result = parseSpec(
      `
services:
  web:
    build: .
    ports: ["80"]
    restart: on-failure:3
    init: true
    stop_signal: SIGQUIT
    read_only: false
    tmpfs: /tmp
    cap_drop: [net_raw, CAP_MKNOD]
    security_opt: ["no-new-privileges:true"]
    shm_size: 128m
    ulimits: { nofile: { soft: 1024, hard: 4096 }, nproc: 512 }
    pids_limit: 200
    mem_limit: 256m
    hostname: web.internal
    networks: { front: { aliases: [www] }, back: }
    volumes: [/app/node_modules, "./nginx.conf:/etc/nginx/nginx.conf:ro"]
    secrets: [db_password]
    configs: [{ source: app, target: /etc/app.ini, mode: 0440, uid: "100" }]
networks: { front: {}, back: {} }
secrets:
  db_password: { environment: DB_PASSWORD }
configs:
  app: { content: "debug = false" }
`,
      {
        fileName: "compose.yaml",
        env: { DB_PASSWORD: "x" },
        tree: memoryTree({ files: { "nginx.conf": "", Dockerfile: "" } }),
      },
    );
    if (!result.ok) throw new Error(result.errors.map(formatProblem).join("\n"));
    const web = byName(toPlan(result.spec, "shop"), "web");
    expect(web?.kind).toBe("web");
    expect(web?.container).toEqual({
      environment: {},
      labels: {},
      limits: { memoryBytes: 256 * 1024 * 1024, pids: 200 },
      stopGracePeriodMs: 10_000,
      volumes: [],
      port: 80,
      files: [
        {
          origin: "bind",
          name: "nginx.conf",
          target: "/etc/nginx/nginx.conf",
          source: { type: "tree", path: "nginx.conf", kind: "file" },
        },
        {
          origin: "secret",
          name: "db_password",
          target: "/run/secrets/db_password",
          mode: 0o444,
          source: { type: "environment", variable: "DB_PASSWORD" },
        },
        {
          origin: "config",
          name: "app",
          target: "/etc/app.ini",
          mode: 0o440,
          uid: "100",
          source: { type: "content", content: "debug = false" },
        },
      ],
      ephemeralVolumes: ["/app/node_modules"],
      tmpfs: { "/tmp": "" },
      restart: { policy: "on-failure", maxRetries: 3 },
      init: true,
      stopSignal: "SIGQUIT",
      readOnly: false,
      capDrop: ["NET_RAW", "MKNOD"],
      noNewPrivileges: true,
      shmSizeBytes: 128 * 1024 * 1024,
      ulimits: [
        { name: "nofile", soft: 1024, hard: 4096 },
        { name: "nproc", soft: 512, hard: 512 },
      ],
      hostname: "web.internal",
      aliases: ["www"],
    });
  });

  it("health: a Compose healthcheck wins over the default HTTP check; x-skiff.health wins over both", () => {
    const plan = toPlan(
      spec(`
services:
  api:
    build: .
    healthcheck: { test: [CMD, /healthcheck], interval: 5s, start_period: 10s }
    x-skiff: { port: 3000, domains: [api.example.com] }
  web:
    build: .
    healthcheck: { test: [CMD, /healthcheck] }
    x-skiff:
      port: 3000
      domains: [www.example.com]
      health: { path: /up, timeout: 1m, interval: 1s, retries: 5, host: internal.example.com }
  jobs:
    build: .
    healthcheck: { disable: true }
  db:
    image: postgres
    healthcheck: { retries: 0 }
`),
      "x",
    );
    expect(byName(plan, "api")?.health).toEqual({
      type: "docker",
      test: ["CMD", "/healthcheck"],
      intervalMs: 5_000,
      timeoutMs: 30_000,
      retries: 3,
      startPeriodMs: 10_000,
      // start period, then three rounds of interval + timeout: Docker's own verdict time
      deadlineMs: 10_000 + 3 * 35_000,
    });
    expect(byName(plan, "web")?.health).toEqual({
      type: "http",
      port: 3000,
      path: "/up",
      host: "internal.example.com",
      intervalMs: 1_000,
      retries: 5,
      deadlineMs: 60_000,
    });
    expect(byName(plan, "jobs")?.health).toEqual({ type: "running", stableMs: 5_000 });
    // No test: the image's own HEALTHCHECK, with Docker's timings.
    expect(byName(plan, "db")?.health).toEqual({
      type: "docker",
      intervalMs: 30_000,
      timeoutMs: 30_000,
      retries: 0,
      startPeriodMs: 0,
      deadlineMs: 60_000,
    });
  });

  it("health: a service without a check must keep running for stable_for (default 5 s)", () => {
    const plan = toPlan(
      spec(`
services:
  jobs:
    build: .
  mailer:
    build: .
    x-skiff: { health: { stable_for: 30s } }
  admin:
    build: .
    healthcheck: { disable: true }
    x-skiff: { port: 4000, health: { stable_for: 2s } }
`),
      "x",
    );
    const cases: [string, PlanHealth][] = [
      ["jobs", { type: "running", stableMs: 5_000 }],
      ["mailer", { type: "running", stableMs: 30_000 }],
      ["admin", { type: "running", stableMs: 2_000 }],
    ];
    for (const [name, health] of cases) expect(byName(plan, name)?.health, name).toEqual(health);
  });

  it("starts dependencies first and otherwise keeps file order", () => {
    const plan = toPlan(
      spec(`
services:
  web:
    image: app
    depends_on: [api]
  cron:
    image: app
  api:
    image: app
    depends_on: { db: { condition: service_healthy } }
  db:
    image: postgres
    healthcheck: { test: pg_isready }
`),
      "x",
    );
    expect(plan.services.map((s) => s.name)).toEqual(["db", "api", "web", "cron"]);
  });

  it("a stateful service with a route keeps its route but is planned as stateful", () => {
    const plan = toPlan(
      spec(`
services:
  cms:
    image: cms
    volumes: [uploads:/var/www/uploads]
    x-skiff: { port: 80 }
volumes:
  uploads:
`),
      "site",
    );
    const cms = byName(plan, "cms");
    expect(cms?.kind).toBe("stateful");
    expect(cms?.routes).toEqual([{ domain: "site.localhost", port: 80 }]);
    expect(cms?.update.order).toBe("stop-first");
    expect(plan.volumes).toEqual(["uploads"]);
  });

  it("copies, so changing the plan does not change the spec", () => {
    const app = spec("services:\n  web:\n    image: app\n    environment: { A: '1' }\n");
    const plan = toPlan(app, "x");
    const web = plan.services[0];
    if (web) web.container.environment.A = "changed";
    expect(app.services.web?.environment).toEqual({ A: "1" });
  });
});
