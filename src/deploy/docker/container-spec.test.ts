import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import type { PlanService } from "../../spec/index.js";
import {
  newGeneration,
  replicaContainerName,
  toContainerCreateOptions,
  toNetworkCreateOptions,
  toTestContainerCreateOptions,
  toVolumeCreateOptions,
} from "./container-spec.js";

const identity = { app: "shop", service: "web", release: 7, replica: 2 };

/** A worker with nothing set; each case changes what it is about. */
function service(overrides: Partial<PlanService> = {}): PlanService {
  return {
    name: "web",
    kind: "worker",
    source: { type: "image", image: "app" },
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
    ...overrides,
  };
}

const SKIFF_LABELS = {
  "skiff.app": "shop",
  "skiff.service": "web",
  "skiff.release": "7",
  "skiff.replica": "2",
};
const LOGS = { Type: "json-file", Config: { "max-size": "10m", "max-file": "3" } };
const NETWORK = { EndpointsConfig: { "skiff-shop": { Aliases: ["web"] } } };
const RESTART = { Name: "unless-stopped" };
/** Skiff's default limits, which every replica gets when its spec sets none (DESIGN.md, Trust). */
const LIMITS = { Memory: 1024 * 1024 * 1024, PidsLimit: 1024 };

interface Case {
  name: string;
  service: PlanService;
  labels?: Record<string, string>;
  expected: Docker.ContainerCreateOptions;
}

const cases: Case[] = [
  {
    name: "a worker: labels, restart policy, bounded logs, the app network, no port",
    service: service(),
    expected: {
      name: "skiff-shop-web-r7-2-abc123",
      Image: "registry/shop/web:r7",
      Env: [],
      Labels: SKIFF_LABELS,
      StopTimeout: 10,
      HostConfig: { RestartPolicy: RESTART, NetworkMode: "skiff-shop", ...LIMITS, LogConfig: LOGS },
      NetworkingConfig: NETWORK,
    },
  },
  {
    name: "command, entrypoint, user, working dir, environment; grace period rounded up to seconds",
    service: service({
      container: {
        command: ["node", "server.js"],
        entrypoint: ["/sbin/tini", "--"],
        environment: { A: "1", URL: "http://orders:4000/?x=y" },
        user: "node:node",
        workingDir: "/srv/app",
        labels: {},
        limits: {},
        stopGracePeriodMs: 2_500,
        volumes: [],
      },
    }),
    expected: {
      name: "skiff-shop-web-r7-2-abc123",
      Image: "registry/shop/web:r7",
      Entrypoint: ["/sbin/tini", "--"],
      Cmd: ["node", "server.js"],
      Env: ["A=1", "URL=http://orders:4000/?x=y"],
      User: "node:node",
      WorkingDir: "/srv/app",
      Labels: SKIFF_LABELS,
      StopTimeout: 3,
      HostConfig: { RestartPolicy: RESTART, NetworkMode: "skiff-shop", ...LIMITS, LogConfig: LOGS },
      NetworkingConfig: NETWORK,
    },
  },
  {
    name: "a web service publishes its port on 127.0.0.1 only, Docker picking the host port",
    service: service({
      kind: "web",
      routes: [{ domain: "shop.localhost", port: 3000 }],
      health: {
        type: "http",
        port: 3000,
        path: "/healthz",
        intervalMs: 2_000,
        retries: 3,
        deadlineMs: 30_000,
      },
      container: {
        environment: { PORT: "3000" },
        labels: { "com.example.team": "shop" },
        limits: { cpus: 0.5, memoryBytes: 256 * 1024 * 1024 },
        stopGracePeriodMs: 0,
        volumes: [],
        port: 3000,
      },
    }),
    labels: { "skiff.test": "1" },
    expected: {
      name: "skiff-shop-web-r7-2-abc123",
      Image: "registry/shop/web:r7",
      Env: ["PORT=3000"],
      Labels: {
        "com.example.team": "shop",
        "skiff.test": "1",
        ...SKIFF_LABELS,
        "skiff.port": "3000",
      },
      StopTimeout: 0,
      ExposedPorts: { "3000/tcp": {} },
      HostConfig: {
        RestartPolicy: RESTART,
        NetworkMode: "skiff-shop",
        PortBindings: { "3000/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] },
        Memory: 256 * 1024 * 1024,
        PidsLimit: 1024,
        NanoCpus: 500_000_000,
        LogConfig: LOGS,
      },
      NetworkingConfig: NETWORK,
    },
  },
  {
    name: "a stateful service: named volumes of the app, with its label, and a Docker healthcheck in ns",
    service: service({
      kind: "stateful",
      health: {
        type: "docker",
        test: ["CMD", "pg_isready"],
        intervalMs: 5_000,
        timeoutMs: 1_000,
        retries: 4,
        startPeriodMs: 10_000,
        deadlineMs: 34_000,
      },
      update: { order: "stop-first", failureAction: "rollback" },
      container: {
        environment: {},
        labels: {},
        limits: {},
        stopGracePeriodMs: 30_000,
        volumes: [
          { source: "pgdata", target: "/var/lib/postgresql/data", readOnly: false },
          { source: "seed", target: "/seed", readOnly: true, noCopy: true },
        ],
      },
    }),
    expected: {
      name: "skiff-shop-web-r7-2-abc123",
      Image: "registry/shop/web:r7",
      Env: [],
      Labels: SKIFF_LABELS,
      StopTimeout: 30,
      Healthcheck: {
        Test: ["CMD", "pg_isready"],
        Interval: 5_000_000_000,
        Timeout: 1_000_000_000,
        Retries: 4,
        StartPeriod: 10_000_000_000,
      },
      HostConfig: {
        RestartPolicy: RESTART,
        NetworkMode: "skiff-shop",
        ...LIMITS,
        Mounts: [
          {
            Type: "volume",
            Source: "skiff-shop_pgdata",
            Target: "/var/lib/postgresql/data",
            ReadOnly: false,
            VolumeOptions: {
              NoCopy: false,
              Labels: { "skiff.app": "shop" },
              DriverConfig: { Name: "local", Options: {} },
            },
          },
          {
            Type: "volume",
            Source: "skiff-shop_seed",
            Target: "/seed",
            ReadOnly: true,
            VolumeOptions: {
              NoCopy: true,
              Labels: { "skiff.app": "shop" },
              DriverConfig: { Name: "local", Options: {} },
            },
          },
        ],
        LogConfig: LOGS,
      },
      NetworkingConfig: NETWORK,
    },
  },
  {
    name: "a Docker healthcheck without a test keeps the image's HEALTHCHECK test",
    service: service({
      health: {
        type: "docker",
        intervalMs: 30_000,
        timeoutMs: 30_000,
        retries: 3,
        startPeriodMs: 0,
        deadlineMs: 180_000,
      },
    }),
    expected: {
      name: "skiff-shop-web-r7-2-abc123",
      Image: "registry/shop/web:r7",
      Env: [],
      Labels: SKIFF_LABELS,
      StopTimeout: 10,
      Healthcheck: {
        Interval: 30_000_000_000,
        Timeout: 30_000_000_000,
        Retries: 3,
        StartPeriod: 0,
      },
      HostConfig: { RestartPolicy: RESTART, NetworkMode: "skiff-shop", ...LIMITS, LogConfig: LOGS },
      NetworkingConfig: NETWORK,
    },
  },
  {
    name: "a worker with a port (no route) still publishes it, for its HTTP health check",
    service: service({
      health: {
        type: "http",
        port: 4000,
        path: "/",
        intervalMs: 2_000,
        retries: 3,
        deadlineMs: 30_000,
      },
      container: {
        environment: {},
        labels: {},
        limits: {},
        stopGracePeriodMs: 10_000,
        volumes: [],
        port: 4000,
      },
    }),
    expected: {
      name: "skiff-shop-web-r7-2-abc123",
      Image: "registry/shop/web:r7",
      Env: [],
      Labels: { ...SKIFF_LABELS, "skiff.port": "4000" },
      StopTimeout: 10,
      ExposedPorts: { "4000/tcp": {} },
      HostConfig: {
        RestartPolicy: RESTART,
        NetworkMode: "skiff-shop",
        PortBindings: { "4000/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] },
        ...LIMITS,
        LogConfig: LOGS,
      },
      NetworkingConfig: NETWORK,
    },
  },
  {
    name: "runtime settings of the spec: restart, init, stop signal, read-only root, tmpfs, dropped capabilities, no-new-privileges, shm, ulimits, pids, hostname, aliases",
    service: service({
      container: {
        environment: {},
        labels: {},
        limits: { pids: 64, memoryBytes: 64 * 1024 * 1024 },
        stopGracePeriodMs: 10_000,
        volumes: [],
        restart: { policy: "on-failure", maxRetries: 5 },
        init: true,
        stopSignal: "SIGQUIT",
        readOnly: true,
        tmpfs: { "/tmp": "size=65536,mode=1777", "/run": "" },
        capDrop: ["ALL"],
        noNewPrivileges: true,
        shmSizeBytes: 256 * 1024 * 1024,
        ulimits: [{ name: "nofile", soft: 1024, hard: 65536 }],
        hostname: "mail.example.com",
        aliases: ["database", "db.internal"],
      },
    }),
    expected: {
      name: "skiff-shop-web-r7-2-abc123",
      Image: "registry/shop/web:r7",
      Env: [],
      Labels: SKIFF_LABELS,
      StopTimeout: 10,
      StopSignal: "SIGQUIT",
      Hostname: "mail.example.com",
      HostConfig: {
        RestartPolicy: { Name: "on-failure", MaximumRetryCount: 5 },
        NetworkMode: "skiff-shop",
        Memory: 64 * 1024 * 1024,
        PidsLimit: 64,
        Init: true,
        ReadonlyRootfs: true,
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        ShmSize: 256 * 1024 * 1024,
        Ulimits: [{ Name: "nofile", Soft: 1024, Hard: 65536 }],
        Tmpfs: { "/tmp": "size=65536,mode=1777", "/run": "" },
        LogConfig: LOGS,
      },
      NetworkingConfig: {
        EndpointsConfig: { "skiff-shop": { Aliases: ["web", "database", "db.internal"] } },
      },
    },
  },
  {
    name: "anonymous volumes: a fresh volume per replica (no source), next to the named ones",
    service: service({
      kind: "stateful",
      container: {
        environment: {},
        labels: {},
        limits: {},
        stopGracePeriodMs: 10_000,
        volumes: [{ source: "data", target: "/data", readOnly: false }],
        ephemeralVolumes: ["/app/node_modules"],
      },
    }),
    expected: {
      name: "skiff-shop-web-r7-2-abc123",
      Image: "registry/shop/web:r7",
      Env: [],
      Labels: SKIFF_LABELS,
      StopTimeout: 10,
      HostConfig: {
        RestartPolicy: RESTART,
        NetworkMode: "skiff-shop",
        ...LIMITS,
        Mounts: [
          {
            Type: "volume",
            Source: "skiff-shop_data",
            Target: "/data",
            ReadOnly: false,
            VolumeOptions: {
              NoCopy: false,
              Labels: { "skiff.app": "shop" },
              DriverConfig: { Name: "local", Options: {} },
            },
          },
          {
            Type: "volume",
            Source: "",
            Target: "/app/node_modules",
            ReadOnly: false,
            VolumeOptions: {
              NoCopy: false,
              Labels: { "skiff.app": "shop" },
              DriverConfig: { Name: "local", Options: {} },
            },
          },
        ],
        LogConfig: LOGS,
      },
      NetworkingConfig: NETWORK,
    },
  },
];

/** The restart policy Docker gets for each of the spec's. */
const restartCases: [PlanService["container"]["restart"], Record<string, unknown>][] = [
  [undefined, { Name: "unless-stopped" }],
  // always would bring back, at the daemon's next start, replicas Skiff stopped on purpose.
  [{ policy: "always" }, { Name: "unless-stopped" }],
  [{ policy: "unless-stopped" }, { Name: "unless-stopped" }],
  [{ policy: "no" }, { Name: "no" }],
  [{ policy: "on-failure" }, { Name: "on-failure" }],
  [
    { policy: "on-failure", maxRetries: 3 },
    { Name: "on-failure", MaximumRetryCount: 3 },
  ],
];

describe("restart policies", () => {
  it.each(restartCases)("%j → %j", (restart, expected) => {
    const s = service();
    if (restart) s.container.restart = restart;
    const options = toContainerCreateOptions({ identity, service: s, image: "i", name: "n" });
    expect(options.HostConfig?.RestartPolicy).toEqual(expected);
  });
});

describe("toContainerCreateOptions", () => {
  it.each(cases)("$name", (c) => {
    const name = replicaContainerName(identity, "abc123");
    expect(
      toContainerCreateOptions({
        identity,
        service: c.service,
        image: "registry/shop/web:r7",
        name,
        ...(c.labels && { labels: c.labels }),
      }),
    ).toStrictEqual(c.expected);
  });

  it("Skiff's labels win over the user's", () => {
    const s = service();
    s.container.labels = { "skiff.release": "999", keep: "me" };
    const options = toContainerCreateOptions({ identity, service: s, image: "i", name: "n" });
    expect(options.Labels).toEqual({ keep: "me", ...SKIFF_LABELS });
  });

  it("never grants privileges, added capabilities, devices or host namespaces, whatever the plan holds", () => {
    for (const c of cases) {
      const host = toContainerCreateOptions({
        identity,
        service: c.service,
        image: "i",
        name: "n",
      }).HostConfig;
      for (const key of [
        "Privileged",
        "CapAdd",
        "Devices",
        "PidMode",
        "IpcMode",
        "UsernsMode",
        "UTSMode",
        "Binds",
      ]) {
        expect(host, `${c.name}: ${key}`).not.toHaveProperty(key);
      }
      expect(host?.NetworkMode).toBe("skiff-shop");
      expect(host?.Memory, c.name).toBeGreaterThan(0);
      expect(host?.PidsLimit, c.name).toBeGreaterThan(0);
    }
  });

  it("never publishes on all interfaces", () => {
    for (const c of cases) {
      const options = toContainerCreateOptions({
        identity,
        service: c.service,
        image: "i",
        name: "n",
      });
      for (const bindings of Object.values(options.HostConfig?.PortBindings ?? {})) {
        for (const b of bindings as { HostIp: string }[]) expect(b.HostIp).toBe("127.0.0.1");
      }
    }
  });
});

describe("names", () => {
  it.each([
    [
      { app: "shop", service: "web", release: 1, replica: 1 },
      "0a1b2c",
      "skiff-shop-web-r1-1-0a1b2c",
    ],
    [{ app: "a-b", service: "db", release: 12, replica: 3 }, "ffffff", "skiff-a-b-db-r12-3-ffffff"],
  ])("replicaContainerName(%o, %s) = %s", (id, generation, expected) => {
    expect(replicaContainerName(id, generation)).toBe(expected);
  });

  it("a generation is 6 hex digits, different each time", () => {
    const seen = new Set(Array.from({ length: 50 }, () => newGeneration()));
    for (const g of seen) expect(g).toMatch(/^[0-9a-f]{6}$/);
    expect(seen.size).toBeGreaterThan(45);
  });
});

describe("networks and volumes", () => {
  it.each([
    [
      "the app network",
      toNetworkCreateOptions("shop"),
      {
        Name: "skiff-shop",
        Driver: "bridge",
        CheckDuplicate: true,
        Labels: { "skiff.app": "shop" },
      },
    ],
    [
      "the app network with a test label",
      toNetworkCreateOptions("shop", { "skiff.test": "1" }),
      {
        Name: "skiff-shop",
        Driver: "bridge",
        CheckDuplicate: true,
        Labels: { "skiff.test": "1", "skiff.app": "shop" },
      },
    ],
    [
      "a named volume of the app",
      toVolumeCreateOptions("shop", "pgdata"),
      { Name: "skiff-shop_pgdata", Driver: "local", Labels: { "skiff.app": "shop" } },
    ],
    [
      "the app network of one installation: its instance id in the name",
      toNetworkCreateOptions("shop", { "skiff.instance": "0a1b2c3d4e5f" }),
      {
        Name: "skiff-shop-0a1b2c3d4e5f",
        Driver: "bridge",
        CheckDuplicate: true,
        Labels: { "skiff.instance": "0a1b2c3d4e5f", "skiff.app": "shop" },
      },
    ],
    [
      "a named volume of one installation's app",
      toVolumeCreateOptions("shop", "pgdata", { "skiff.instance": "0a1b2c3d4e5f" }),
      {
        Name: "skiff-shop-0a1b2c3d4e5f_pgdata",
        Driver: "local",
        Labels: { "skiff.instance": "0a1b2c3d4e5f", "skiff.app": "shop" },
      },
    ],
  ])("%s", (_name, actual, expected) => {
    expect(actual).toEqual(expected);
  });
});

describe("directory binds", () => {
  it("get an empty volume of the replica's own, so the image's files there are hidden", () => {
    const s = service();
    s.container.files = [
      {
        origin: "bind",
        name: "./conf.d",
        target: "/etc/nginx/conf.d",
        source: { type: "tree", path: "conf.d", kind: "directory" },
      },
      {
        origin: "bind",
        name: "./nginx.conf",
        target: "/etc/nginx/nginx.conf",
        source: { type: "tree", path: "nginx.conf", kind: "file" },
      },
    ];
    const options = toContainerCreateOptions({ identity, service: s, image: "i", name: "n" });
    expect(options.HostConfig?.Mounts).toEqual([
      {
        Type: "volume",
        Source: "",
        Target: "/etc/nginx/conf.d",
        ReadOnly: false,
        VolumeOptions: {
          NoCopy: true,
          Labels: { "skiff.app": "shop" },
          DriverConfig: { Name: "local", Options: {} },
        },
      },
    ]);
  });
});

describe("test containers", () => {
  const TEST_LABELS = { "skiff.app": "shop", "skiff.test-run": "4", "skiff.instance": "abc" };
  const web = service({
    kind: "stateful",
    health: {
      type: "docker",
      test: ["CMD", "true"],
      intervalMs: 1_000,
      timeoutMs: 1_000,
      retries: 3,
      startPeriodMs: 0,
      deadlineMs: 10_000,
    },
    container: {
      environment: { DB: "db" },
      user: "app",
      labels: { team: "a" },
      limits: { memoryBytes: 64 * 1024 * 1024 },
      stopGracePeriodMs: 10_000,
      volumes: [{ source: "data", target: "/data", readOnly: false }],
      tmpfs: { "/tmp": "" },
      aliases: ["www"],
      port: 80,
    },
  });

  it("a dependency runs as a replica would, on the test's network, without the app's volumes, port or restart", () => {
    expect(
      toTestContainerCreateOptions({
        app: "shop",
        service: web,
        image: "img:r4",
        network: "net1",
        labels: TEST_LABELS,
      }),
    ).toEqual({
      Image: "img:r4",
      Env: ["DB=db"],
      User: "app",
      Labels: { team: "a", ...TEST_LABELS },
      StopTimeout: 10,
      Healthcheck: {
        Test: ["CMD", "true"],
        Interval: 1e9,
        Timeout: 1e9,
        Retries: 3,
        StartPeriod: 0,
      },
      HostConfig: {
        RestartPolicy: { Name: "no" },
        NetworkMode: "net1",
        Memory: 64 * 1024 * 1024,
        PidsLimit: 1024,
        Tmpfs: { "/tmp": "" },
        LogConfig: LOGS,
        CpuShares: 128,
      },
      NetworkingConfig: { EndpointsConfig: { net1: { Aliases: ["web", "www"] } } },
    });
  });

  it("a test entry runs its command through sh -c, without the service's healthcheck", () => {
    const options = toTestContainerCreateOptions({
      app: "shop",
      service: web,
      image: "img:r4",
      network: "net1",
      labels: TEST_LABELS,
      command: "npm test",
    });
    expect(options).toMatchObject({ Entrypoint: ["/bin/sh", "-c"], Cmd: ["npm test"] });
    expect(options.Healthcheck).toBeUndefined();
    expect(Object.keys(options.Labels ?? {})).not.toContain("skiff.replica");
  });
});
