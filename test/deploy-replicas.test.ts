// Replicas as a deploy starts them, against the real Docker Engine: the
// create requests from src/deploy/container-spec.ts, and the health wait
// for each kind of check, including the replicas that must fail fast.

import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containerLogTail } from "../src/deploy/docker/container-logs.js";
import {
  newGeneration,
  replicaContainerName,
  toContainerCreateOptions,
  toNetworkCreateOptions,
  toVolumeCreateOptions,
} from "../src/deploy/docker/container-spec.js";
import { publishedPort, waitUntilHealthy } from "../src/deploy/docker/health.js";
import { probeHttp } from "../src/deploy/http-probe.js";
import { appNetworkName, LABELS } from "../src/docker/engine.js";
import type { PlanHealth, PlanService } from "../src/spec/index.js";
import { ensureTestImage, TEST_IMAGE, TEST_LABEL, testDocker } from "./support/busybox-image.js";

// A fresh app per run: cleanup finds exactly this run's objects by its name.
const app = `replicas-${Date.now().toString(36)}`;
const testLabels = { [TEST_LABEL]: "deploy-replicas" };
const FAST = { pollMs: 100 };

/** A service of the plan, as the deployer gets it; `container` fields override the defaults. */
function service(
  name: string,
  health: PlanHealth,
  container: Partial<PlanService["container"]> = {},
): PlanService {
  return {
    name,
    kind: container.volumes?.length ? "stateful" : container.port ? "web" : "worker",
    source: { type: "image", image: TEST_IMAGE },
    replicas: 1,
    routes: container.port ? [{ domain: `${app}.localhost`, port: container.port }] : [],
    health,
    dependsOn: [],
    update: { order: "start-first", failureAction: "rollback" },
    container: {
      environment: {},
      labels: {},
      limits: {},
      stopGracePeriodMs: 1_000,
      volumes: [],
      ...container,
    },
  };
}

/** httpd serving /www, with a /healthz file holding `body`. WorkingDir makes Docker create /www. */
function httpd(body: string): Partial<PlanService["container"]> {
  return {
    command: ["sh", "-c", `echo ${body} > /www/healthz && exec httpd -f -p 8000 -h /www`],
    workingDir: "/www",
    port: 8000,
  };
}

const RUNNING = (stableMs: number): PlanHealth => ({ type: "running", stableMs });

describe("replicas on one Docker host", () => {
  let docker: Docker;
  let release = 0;

  /** Creates and starts one replica of `s` from the builder's request (changed by `tweak`, if given). */
  async function start(
    s: PlanService,
    tweak: (o: Docker.ContainerCreateOptions) => Docker.ContainerCreateOptions = (o) => o,
  ): Promise<Docker.Container> {
    release += 1;
    const identity = { app, service: s.name, release, replica: 1 };
    const options = toContainerCreateOptions({
      identity,
      service: s,
      image: TEST_IMAGE,
      name: replicaContainerName(identity, newGeneration()),
      labels: testLabels,
    });
    const container = await docker.createContainer(tweak(options));
    await container.start();
    return container;
  }

  async function runToEnd(s: PlanService): Promise<string[]> {
    const container = await start(s, (o) => ({
      ...o,
      HostConfig: { ...o.HostConfig, RestartPolicy: { Name: "no" } },
    }));
    await container.wait();
    return containerLogTail(docker, container.id);
  }

  beforeAll(async () => {
    docker = testDocker();
    await ensureTestImage(docker);
    await docker.createNetwork(toNetworkCreateOptions(app, testLabels));
  });

  afterAll(async () => {
    const mine = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.app}=${app}`] },
    });
    for (const c of mine) await docker.getContainer(c.Id).remove({ force: true, v: true });
    await docker
      .getNetwork(appNetworkName(app))
      .remove()
      .catch(() => {});
    const { Volumes } = await docker.listVolumes({ filters: { label: [`${LABELS.app}=${app}`] } });
    for (const v of Volumes ?? []) await docker.getVolume(v.Name).remove();
  });

  it("a web replica becomes healthy over HTTP through its port on 127.0.0.1", async () => {
    const health: PlanHealth = {
      type: "http",
      port: 8000,
      path: "/healthz",
      host: `${app}.localhost`,
      intervalMs: 200,
      retries: 3,
      deadlineMs: 15_000,
    };
    const container = await start(service("web", health, httpd("ok")));
    const verdict = await waitUntilHealthy(docker, container.id, health, FAST);
    expect(verdict).toEqual({ healthy: true, hostPort: expect.any(Number) });
    const hostPort = verdict.healthy ? verdict.hostPort : undefined;
    expect(await publishedPort(docker, container.id, 8000)).toBe(hostPort);
    const bindings = (await container.inspect()).NetworkSettings.Ports["8000/tcp"];
    expect(bindings?.map((b) => b.HostIp)).toEqual(["127.0.0.1"]);
    expect(
      await probeHttp({
        address: { host: "127.0.0.1", port: hostPort as number },
        path: "/healthz",
        timeoutMs: 2_000,
      }),
    ).toEqual({ ok: true, status: 200 });
  });

  it("an HTTP check that never passes fails at the deadline with the last answer", async () => {
    const health: PlanHealth = {
      type: "http",
      port: 8000,
      path: "/missing",
      intervalMs: 200,
      retries: 3,
      deadlineMs: 2_000,
    };
    const container = await start(service("web", health, httpd("ok")));
    expect(await waitUntilHealthy(docker, container.id, health, FAST)).toEqual({
      healthy: false,
      reason: "GET /missing answered no 2xx or 3xx within 2 s; last check: HTTP 404",
    });
  });

  it("a replica that exits fails at once, with its exit code and log tail", async () => {
    const s = service("worker", RUNNING(60_000), {
      command: ["sh", "-c", "echo starting; echo DATABASE_URL is not set >&2; exit 3"],
    });
    const container = await start(s, (o) => ({
      ...o,
      HostConfig: { ...o.HostConfig, RestartPolicy: { Name: "no" } },
    }));
    const started = Date.now();
    expect(await waitUntilHealthy(docker, container.id, s.health, FAST)).toEqual({
      healthy: false,
      reason: "exited with code 3",
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    // stdout and stderr reach the log through separate pipes, so their relative order is not kept.
    const tail = await containerLogTail(docker, container.id);
    expect(tail.sort()).toEqual(["DATABASE_URL is not set", "starting"]);
  });

  it("a crash loop under the restart policy is reported as restarting, at once", async () => {
    const s = service("worker", RUNNING(60_000), {
      command: ["sh", "-c", "echo boom; exit 1"],
    });
    const container = await start(s);
    const started = Date.now();
    const verdict = await waitUntilHealthy(docker, container.id, s.health, FAST);
    expect(verdict).toEqual({
      healthy: false,
      // "exited with code 1; " too, unless Docker had already started it again.
      reason: expect.stringMatching(/^(exited with code 1; )?restarted \d+ times? \(crash loop\)$/),
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    const tail = await containerLogTail(docker, container.id, 5);
    expect(tail.length).toBeGreaterThanOrEqual(1);
    expect(new Set(tail)).toEqual(new Set(["boom"]));
  });

  describe("a Docker healthcheck", () => {
    const health: PlanHealth = {
      type: "docker",
      test: ["CMD", "sh", "-c", "test -f /www/ok || { echo /www/ok is missing; exit 1; }"],
      intervalMs: 200,
      timeoutMs: 2_000,
      retries: 2,
      startPeriodMs: 0,
      deadlineMs: 15_000,
    };

    it("is healthy once its test passes; failures in the start period do not count", async () => {
      const slow = { ...health, startPeriodMs: 10_000, deadlineMs: 20_000 };
      const s = service("db", slow, {
        command: ["sh", "-c", "sleep 1; echo > /www/ok; exec sleep 300"],
        workingDir: "/www",
      });
      const container = await start(s);
      expect(await waitUntilHealthy(docker, container.id, slow, FAST)).toEqual({
        healthy: true,
      });
    });

    it("is healthy as soon as its test passes, not a whole interval later at Docker's first check", async () => {
      // Docker would run its first check after 60 s; the wait gives up after 10 s.
      const rare = { ...health, intervalMs: 60_000, deadlineMs: 10_000 };
      const s = service("db", rare, {
        command: ["sh", "-c", "sleep 1; echo > /www/ok; exec sleep 300"],
        workingDir: "/www",
      });
      const container = await start(s);
      expect(await waitUntilHealthy(docker, container.id, rare, FAST)).toEqual({ healthy: true });
      expect((await container.inspect()).State.Health?.Status).toBe("starting");
    });

    it("fails with the health output when Docker says unhealthy", async () => {
      const s = service("db", health, {
        command: ["sleep", "300"],
        workingDir: "/www",
      });
      const container = await start(s);
      expect(await waitUntilHealthy(docker, container.id, health, FAST)).toEqual({
        healthy: false,
        reason:
          "Docker reports it unhealthy after 2 failed checks; last check: exit 1: /www/ok is missing",
      });
    });
  });

  it("a worker is healthy once it has run stableMs without a restart", async () => {
    const s = service("worker", RUNNING(1_500), { command: ["sleep", "300"] });
    const container = await start(s);
    const started = Date.now();
    const progress: string[] = [];
    expect(
      await waitUntilHealthy(docker, container.id, s.health, {
        ...FAST,
        onProgress: (line) => progress.push(line),
      }),
    ).toEqual({ healthy: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    expect(progress).toEqual([
      "waiting for worker replica 1: running; healthy after 1.5 s without a restart (1 s)",
    ]);
  });

  it("services reach each other by name on the app network", async () => {
    const api = service("api", RUNNING(200), httpd("hello-from-api"));
    const container = await start(api);
    expect(await waitUntilHealthy(docker, container.id, api.health, FAST)).toEqual({
      healthy: true,
    });
    const client = service("client", RUNNING(0), {
      command: ["wget", "-q", "-O", "-", "http://api:8000/healthz"],
    });
    expect(await runToEnd(client)).toEqual(["hello-from-api"]);
  });

  it("a stateful replica's named volume belongs to the app and outlives the container", async () => {
    await docker.createVolume(toVolumeCreateOptions(app, "data", testLabels));
    const volume = { source: "data", target: "/data", readOnly: false };
    const writer = service("store", RUNNING(0), {
      command: ["sh", "-c", "echo kept > /data/file"],
      volumes: [volume],
    });
    expect(await runToEnd(writer)).toEqual([]);
    const reader = service("store", RUNNING(0), {
      command: ["cat", "/data/file"],
      volumes: [{ ...volume, readOnly: true }],
    });
    expect(await runToEnd(reader)).toEqual(["kept"]);
    const info = await docker.getVolume(`skiff-${app}_data`).inspect();
    expect(info.Labels).toMatchObject({ [LABELS.app]: app });
  });
});
