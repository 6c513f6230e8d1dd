import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlanHealth } from "../../spec/index.js";
import { crashReason, hostPortOf, startingProbeMs, waitUntilHealthy } from "./health.js";

type Info = Docker.ContainerInspectInfo;
type State = Info["State"];

const RUNNING: State = {
  Status: "running",
  Running: true,
  Paused: false,
  Restarting: false,
  OOMKilled: false,
  Dead: false,
  Pid: 42,
  ExitCode: 0,
  Error: "",
  StartedAt: "2024-01-01T00:00:00Z",
  FinishedAt: "0001-01-01T00:00:00Z",
};
const EXITED = (code: number): State => ({
  ...RUNNING,
  Status: "exited",
  Running: false,
  Pid: 0,
  ExitCode: code,
});
const RESTARTING = (code: number): State => ({ ...RUNNING, Restarting: true, ExitCode: code });

/** An inspect answer with only what the health wait reads. */
function info(
  state: State,
  more: { restarts?: number; hostPort?: number; test?: string[]; health?: State["Health"] } = {},
): Info {
  return {
    Name: "/skiff-shop-web-r1-1-abc123",
    RestartCount: more.restarts ?? 0,
    State: { ...state, ...(more.health && { Health: more.health }) },
    Config: {
      Labels: { "skiff.service": "web", "skiff.replica": "1" },
      ...(more.test && { Healthcheck: { Test: more.test } }),
    },
    NetworkSettings: {
      Ports:
        more.hostPort === undefined
          ? {}
          : { "3000/tcp": [{ HostIp: "127.0.0.1", HostPort: String(more.hostPort) }] },
    },
  } as unknown as Info;
}

/** A Docker client whose inspect answers come from `next`, called with the number of the call. */
function fakeDocker(next: (call: number) => Info | "gone"): Docker {
  let call = 0;
  return {
    getContainer: () => ({
      inspect: async () => {
        const answer = next(call++);
        if (answer === "gone")
          throw Object.assign(new Error("no such container"), { statusCode: 404 });
        return answer;
      },
    }),
  } as unknown as Docker;
}

const always = (i: Info) => fakeDocker(() => i);

describe("crashReason", () => {
  it.each<[string, Parameters<typeof crashReason>[0], string | undefined]>([
    ["running", { State: RUNNING, RestartCount: 0 }, undefined],
    [
      "created, not started yet",
      { State: { ...RUNNING, Status: "created", Running: false }, RestartCount: 0 },
      undefined,
    ],
    ["exited", { State: EXITED(3), RestartCount: 0 }, "exited with code 3"],
    ["exited 0 is still an exit", { State: EXITED(0), RestartCount: 0 }, "exited with code 0"],
    [
      "dead",
      { State: { ...EXITED(137), Status: "dead" }, RestartCount: 0 },
      "exited with code 137",
    ],
    [
      "restarting once",
      { State: RESTARTING(1), RestartCount: 1 },
      "exited with code 1; restarted 1 time (crash loop)",
    ],
    [
      "running again after restarts",
      { State: RUNNING, RestartCount: 3 },
      "restarted 3 times (crash loop)",
    ],
    [
      "killed for memory",
      { State: { ...EXITED(137), OOMKilled: true }, RestartCount: 0 },
      "was killed for using more memory than its limit (exit code 137); raise deploy.resources.limits.memory",
    ],
    [
      "could not start",
      {
        State: { ...EXITED(127), Error: 'exec: "nope": executable file not found in $PATH' },
        RestartCount: 0,
      },
      'could not run: exec: "nope": executable file not found in $PATH',
    ],
  ])("%s", (_name, input, expected) => {
    expect(crashReason(input)).toBe(expected);
  });
});

describe("hostPortOf", () => {
  const withPorts = (ports: Record<string, { HostIp: string; HostPort: string }[]>) =>
    ({ NetworkSettings: { Ports: ports } }) as unknown as Info;
  it.each<[string, Info, number | undefined]>([
    [
      "published on 127.0.0.1",
      withPorts({ "3000/tcp": [{ HostIp: "127.0.0.1", HostPort: "49153" }] }),
      49153,
    ],
    [
      "only on all interfaces",
      withPorts({ "3000/tcp": [{ HostIp: "0.0.0.0", HostPort: "49153" }] }),
      undefined,
    ],
    [
      "another port",
      withPorts({ "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "49153" }] }),
      undefined,
    ],
    ["not running (no ports)", withPorts({}), undefined],
    [
      "no host port yet",
      withPorts({ "3000/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] }),
      undefined,
    ],
  ])("%s", (_name, input, expected) => {
    expect(hostPortOf(input, 3000)).toBe(expected);
  });
});

describe("startingProbeMs", () => {
  it("probes a few starting replicas every 20 ms, and many within a shared budget", () => {
    expect([1, 4, 10, 200].map(startingProbeMs)).toEqual([20, 20, 50, 1000]);
  });
});

describe("waitUntilHealthy", () => {
  const fast = { pollMs: 5 };
  const running = (stableMs: number): PlanHealth => ({ type: "running", stableMs });

  it("running: healthy once it has run stableMs, with the host port when asked", async () => {
    const start = Date.now();
    const verdict = await waitUntilHealthy(
      always(info(RUNNING, { hostPort: 49153 })),
      "c",
      running(100),
      {
        ...fast,
        containerPort: 3000,
      },
    );
    expect(verdict).toEqual({ healthy: true, hostPort: 49153 });
    expect(Date.now() - start).toBeGreaterThanOrEqual(100);
  });

  it.each<[string, (call: number) => Info | "gone", string]>([
    ["exited", (n) => (n < 3 ? info(RUNNING) : info(EXITED(3))), "exited with code 3"],
    [
      "restarted by Docker",
      (n) => (n < 3 ? info(RUNNING) : info(RUNNING, { restarts: 1 })),
      "restarted 1 time (crash loop)",
    ],
    [
      "restarting",
      (n) => (n < 3 ? info(RUNNING) : info(RESTARTING(1), { restarts: 2 })),
      "exited with code 1; restarted 2 times (crash loop)",
    ],
    [
      "removed",
      (n) => (n < 3 ? info(RUNNING) : "gone"),
      "the container was removed while Skiff waited",
    ],
  ])("running: fails at once when %s", async (_name, next, reason) => {
    const start = Date.now();
    const verdict = await waitUntilHealthy(fakeDocker(next), "c", running(60_000), fast);
    expect(verdict).toEqual({ healthy: false, reason });
    expect(Date.now() - start).toBeLessThan(2_000);
  });

  it("docker: waits for Docker's healthy, and fails at once on unhealthy with the check's output", async () => {
    const health: PlanHealth = {
      type: "docker",
      test: ["CMD", "check"],
      intervalMs: 10,
      timeoutMs: 10,
      retries: 3,
      startPeriodMs: 0,
      deadlineMs: 5_000,
    };
    const log = (output: string) => [{ Start: "", End: "", ExitCode: 1, Output: output }];
    const test = ["CMD", "check"];
    const healthy = await waitUntilHealthy(
      fakeDocker((n) =>
        info(RUNNING, {
          test,
          health: { Status: n < 3 ? "starting" : "healthy", FailingStreak: 0, Log: [] },
        }),
      ),
      "c",
      health,
      fast,
    );
    expect(healthy).toEqual({ healthy: true });
    const unhealthy = await waitUntilHealthy(
      always(
        info(RUNNING, {
          test,
          health: { Status: "unhealthy", FailingStreak: 3, Log: log("db not ready\nretrying\n") },
        }),
      ),
      "c",
      health,
      fast,
    );
    expect(unhealthy).toEqual({
      healthy: false,
      reason:
        "Docker reports it unhealthy after 3 failed checks; last check: exit 1: db not ready | retrying",
    });
    const late = await waitUntilHealthy(
      always(
        info(RUNNING, { test, health: { Status: "starting", FailingStreak: 1, Log: log("nope") } }),
      ),
      "c",
      { ...health, deadlineMs: 50 },
      fast,
    );
    expect(late).toEqual({
      healthy: false,
      reason:
        "Docker did not report it healthy within 50 ms; health starting; last check: exit 1: nope",
    });
    const none = await waitUntilHealthy(always(info(RUNNING)), "c", health, fast);
    expect(none).toMatchObject({
      healthy: false,
      reason: expect.stringMatching(/^has no health check to wait for/),
    });
  });

  describe("http", () => {
    let server: Server;
    let port: number;
    let ready = false;
    beforeAll(async () => {
      server = createServer((req, res) =>
        res.writeHead(ready && req.url === "/up" ? 200 : 503).end(),
      );
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    const http = (deadlineMs: number): Extract<PlanHealth, { type: "http" }> => ({
      type: "http",
      port: 3000,
      path: "/up",
      intervalMs: 10,
      retries: 3,
      deadlineMs,
    });

    it("probes through the published port until 2xx/3xx", async () => {
      ready = false;
      setTimeout(() => {
        ready = true;
      }, 100);
      const verdict = await waitUntilHealthy(
        always(info(RUNNING, { hostPort: port })),
        "c",
        http(5_000),
        fast,
      );
      expect(verdict).toEqual({ healthy: true, hostPort: port });
    });

    it("checks a starting app again at once, but an answering one only after the interval", async () => {
      // Nothing listens on `idle` yet: the app is still starting.
      const idle = createServer((req, res) => res.writeHead(req.url === "/up" ? 200 : 503).end());
      await new Promise<void>((resolve) => idle.listen(0, "127.0.0.1", resolve));
      const idlePort = (idle.address() as AddressInfo).port;
      await new Promise((resolve) => idle.close(resolve));
      setTimeout(() => idle.listen(idlePort, "127.0.0.1"), 300);
      const slowInterval = (deadlineMs: number): PlanHealth => ({
        ...http(deadlineMs),
        intervalMs: 60_000,
      });
      try {
        // Refused connections are retried well within the 60 s interval.
        expect(
          await waitUntilHealthy(
            always(info(RUNNING, { hostPort: idlePort })),
            "c",
            slowInterval(5_000),
            fast,
          ),
        ).toEqual({ healthy: true, hostPort: idlePort });
      } finally {
        idle.closeAllConnections();
        await new Promise((resolve) => idle.close(resolve));
      }
      // An HTTP answer that fails waits out the interval, so becoming ready meanwhile does not count.
      ready = false;
      setTimeout(() => {
        ready = true;
      }, 100);
      expect(
        await waitUntilHealthy(
          always(info(RUNNING, { hostPort: port })),
          "c",
          slowInterval(500),
          fast,
        ),
      ).toEqual({
        healthy: false,
        reason: "GET /up answered no 2xx or 3xx within 500 ms; last check: HTTP 503",
      });
    });

    it("probes a starting app between inspections, and still fails soon after it exits", async () => {
      const refusing = createServer();
      await new Promise<void>((resolve) => refusing.listen(0, "127.0.0.1", resolve));
      const refusedPort = (refusing.address() as AddressInfo).port;
      await new Promise((resolve) => refusing.close(resolve));
      let inspections = 0;
      const exitsAt = Date.now() + 600;
      const docker = fakeDocker(() => {
        inspections++;
        return Date.now() < exitsAt ? info(RUNNING, { hostPort: refusedPort }) : info(EXITED(1));
      });
      const verdict = await waitUntilHealthy(docker, "c", http(10_000), { pollMs: 100 });
      expect(verdict).toEqual({ healthy: false, reason: "exited with code 1" });
      // About one inspection per 100 ms, where a probe went out every 20 ms.
      expect(inspections).toBeGreaterThanOrEqual(3);
      expect(inspections).toBeLessThanOrEqual(9);
    });

    it("at the deadline, says what the last check answered", async () => {
      ready = false;
      expect(
        await waitUntilHealthy(always(info(RUNNING, { hostPort: port })), "c", http(100), fast),
      ).toEqual({
        healthy: false,
        reason: "GET /up answered no 2xx or 3xx within 100 ms; last check: HTTP 503",
      });
      expect(await waitUntilHealthy(always(info(RUNNING)), "c", http(100), fast)).toEqual({
        healthy: false,
        reason:
          "GET /up answered no 2xx or 3xx within 100 ms; last check: port 3000 is not published on 127.0.0.1",
      });
    });
  });

  it("reports progress now and then, not once per poll", async () => {
    const lines: string[] = [];
    await waitUntilHealthy(always(info(RUNNING)), "c", running(2_300), {
      ...fast,
      onProgress: (line) => lines.push(line),
    });
    // Hundreds of polls; quiet for the first second, then a line when the answer changes or every 5 s.
    expect(lines).toEqual([
      "waiting for web replica 1: running; healthy after 2.3 s without a restart (1 s)",
    ]);
  });

  it("stops when aborted", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("run cancelled")), 50);
    await expect(
      waitUntilHealthy(always(info(RUNNING)), "c", running(60_000), {
        ...fast,
        signal: controller.signal,
      }),
    ).rejects.toThrow("run cancelled");
  });
});
