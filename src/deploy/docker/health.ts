// Waiting for one new replica to become healthy, the way its plan says:
// an HTTP check through the port it publishes on 127.0.0.1, Docker's own
// healthcheck, or (with no check) running long enough without a restart.
// Whatever the check, a replica that exits or is restarted by Docker fails
// at once: waiting for the deadline would only delay the same verdict.

import type Docker from "dockerode";
import { LABELS } from "../../docker/engine.js";
import { isGone } from "../../docker/errors.js";
import type { PlanHealth } from "../../spec/index.js";
import { describeProbe, probeHttp, seconds } from "../http-probe.js";
import { healthTestCommand, passesHealthTest } from "./health-exec.js";

/** The outcome of waiting: healthy (with the host port of the container port, when asked), or why not. */
export type HealthVerdict =
  | { healthy: true; hostPort?: number }
  | { healthy: false; reason: string };

/** How waitUntilHealthy reports and stops. */
export interface WaitOptions {
  /** Container port to report the published host port of (an http check uses its own port). */
  containerPort?: number;
  /** Aborting stops the wait; it then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Occasional progress lines for people, e.g. "waiting for web replica 1: GET / → connection refused (3 s)". */
  onProgress?: (text: string) => void;
  /** How often the container's state is inspected. Default 250 ms. */
  pollMs?: number;
}

type Info = Docker.ContainerInspectInfo;

const DEFAULT_POLL_MS = 250;
/**
 * How soon an HTTP check runs again while the app has not answered at all
 * (connection refused or closed: it is still starting). A new replica then
 * goes into service within this long of listening, instead of a whole health
 * interval later (2 s by default; measured in docs/BENCHMARKS.md). A refused
 * connection costs next to nothing, and the pace lasts only until the app
 * answers; then a failing answer is checked again after the interval. (The
 * container is inspected every pollMs meanwhile, so a crash shows within
 * that.)
 */
const STARTING_PROBE_MS = 20;
/**
 * The pace above is for a few replicas. Many starting at once (an app of
 * 200 services) share a budget of about this many starting probes per
 * second, so that refused connections do not take the CPUs from the
 * replicas that are starting.
 */
const STARTING_PROBES_PER_SECOND = 200;
/** How soon a replica that has not answered is probed again, given how many are starting. */
export function startingProbeMs(starting: number): number {
  return Math.max(STARTING_PROBE_MS, Math.ceil((1000 * starting) / STARTING_PROBES_PER_SECOND));
}

/** HTTP waits in this process whose replica has not answered yet. */
let startingWaits = 0;

/** One wait's part in startingWaits: counted while its replica has not answered. */
class StartingWait {
  private counted = false;

  /** Records whether the replica is still starting (has not answered); returns the next probe's delay for it. */
  nextProbeMs(starting: boolean, intervalMs: number): number {
    if (starting !== this.counted) startingWaits += starting ? 1 : -1;
    this.counted = starting;
    return starting ? startingProbeMs(startingWaits) : intervalMs;
  }

  end(): void {
    this.nextProbeMs(false, 0);
  }
}
/**
 * How often a Docker healthcheck's test is run through exec while Docker has
 * not reported a first result (health-exec.ts). Slower than an HTTP probe: a
 * test usually starts a process in the container.
 */
const STARTING_EXEC_MS = 250;
/** The shortest pause between two passes of the wait loop (each inspects the container). */
const MIN_SLEEP_MS = 20;
/** A replica checked by running time that has not even started after this long has failed. */
const START_GRACE_MS = 30_000;
/** Progress: nothing for a replica healthy within this, then a line when the answer changes or every PROGRESS_EVERY_MS. */
const PROGRESS_QUIET_MS = 1_000;
const PROGRESS_EVERY_MS = 5_000;
/** One HTTP check may take this long; a slower answer counts as a failed check. */
const PROBE_TIMEOUT_MS = 5_000;
/** Docker's health output can be 4 KB; a reason keeps its end, where errors usually are. */
const MAX_OUTPUT_CHARS = 400;

/**
 * Waits until the new replica `containerId` is healthy by `health`, or
 * returns why it is not: it exited or was restarted (at once), or the
 * check still failed at the deadline (with what the last check answered).
 * A new replica starts with a RestartCount of 0, so any restart counts.
 */
export async function waitUntilHealthy(
  docker: Docker,
  containerId: string,
  health: PlanHealth,
  options: WaitOptions = {},
): Promise<HealthVerdict> {
  const starting = new StartingWait();
  try {
    return await waitForVerdict(docker, containerId, health, options, starting);
  } finally {
    starting.end();
  }
}

async function waitForVerdict(
  docker: Docker,
  containerId: string,
  health: PlanHealth,
  options: WaitOptions,
  starting: StartingWait,
): Promise<HealthVerdict> {
  const { signal } = options;
  const container = docker.getContainer(containerId);
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  const start = Date.now();
  const deadline =
    start + (health.type === "running" ? health.stableMs + START_GRACE_MS : health.deadlineMs);
  const progress = progressReporter(options.onProgress, start);
  let answer = "not inspected yet";
  let nextProbe = start;
  let answered = false;
  let runningSince: number | undefined;

  const healthy = (info: Info, port = options.containerPort): HealthVerdict => {
    const hostPort = port === undefined ? undefined : hostPortOf(info, port);
    return hostPort === undefined ? { healthy: true } : { healthy: true, hostPort };
  };

  let info: Info | undefined;
  let inspectedAt = 0;

  for (;;) {
    signal?.throwIfAborted();
    // An HTTP check of a running replica asks the app, not Docker: the
    // container is inspected again (a crash, a restart) every pollMs, and
    // the probes in between use the host port it already has.
    if (
      !info ||
      health.type !== "http" ||
      !info.State.Running ||
      Date.now() - inspectedAt >= pollMs
    ) {
      info = await inspect(container, signal);
      inspectedAt = Date.now();
      if (!info) return { healthy: false, reason: "the container was removed while Skiff waited" };
      const crash = crashReason(info);
      if (crash) return { healthy: false, reason: crash };
    }
    const now = Date.now();

    if (!info.State.Running) {
      answer = `container ${info.State.Status}`;
    } else if (health.type === "running") {
      runningSince ??= now;
      if (now - runningSince >= health.stableMs) return healthy(info);
      // The same words every poll: the elapsed time in the progress line shows how far it got.
      answer = `running; healthy after ${seconds(health.stableMs)} without a restart`;
    } else if (health.type === "http") {
      if (now >= nextProbe) {
        const hostPort = hostPortOf(info, health.port);
        if (hostPort === undefined) {
          answer = `port ${health.port} is not published on 127.0.0.1`;
        } else {
          const timeoutMs = Math.max(1, Math.min(PROBE_TIMEOUT_MS, deadline - now));
          const result = await probeHttp({
            address: { host: "127.0.0.1", port: hostPort },
            path: health.path,
            ...(health.host !== undefined && { host: health.host }),
            timeoutMs,
            ...(signal && { signal }),
          });
          signal?.throwIfAborted();
          if (result.ok) return healthy(info, health.port);
          // A check the deadline cut short says nothing new: keep what the app answered before.
          if (!(answered && result.timedOut && timeoutMs < PROBE_TIMEOUT_MS)) {
            answered = result.status !== undefined;
            answer = `GET ${health.path} → ${describeProbe(result)}`;
          }
        }
        nextProbe = Date.now() + starting.nextProbeMs(!answered, health.intervalMs);
      }
    } else {
      const state = info.State.Health;
      const last = lastHealthOutput(info);
      if (state?.Status === "healthy") return healthy(info);
      if (state?.Status === "unhealthy") {
        return {
          healthy: false,
          reason: `Docker reports it unhealthy after ${state.FailingStreak} failed check${state.FailingStreak === 1 ? "" : "s"}; last check: ${last ?? "no output"}`,
        };
      }
      if (!hasHealthTest(info)) {
        return {
          healthy: false,
          reason:
            "has no health check to wait for: the image has no HEALTHCHECK and the service's healthcheck: has no test. Add a test, or disable: true to only check that it keeps running",
        };
      }
      const command = healthTestCommand(
        info.Config?.Healthcheck?.Test,
        // In the Engine's inspect answer, though not in dockerode's types.
        (info.Config as { Shell?: string[] } | undefined)?.Shell,
      );
      if (command && state?.Status !== "healthy" && now >= nextProbe) {
        const timeoutMs = Math.max(1, Math.min(health.timeoutMs, deadline - now));
        if (await passesHealthTest(container, command, timeoutMs, signal)) return healthy(info);
        signal?.throwIfAborted();
        nextProbe = Date.now() + STARTING_EXEC_MS;
      }
      answer = `Docker health ${state?.Status ?? "not reported yet"}${last ? `; last check: ${last}` : ""}`;
    }

    if (Date.now() >= deadline) return { healthy: false, reason: deadlineReason(health, answer) };
    progress(describeReplica(info), answer);
    // Sleep until the next probe is due, but never spin: nothing may be due at all
    // (a container not running yet, a check without a command).
    const untilProbe =
      health.type === "running" ? pollMs : Math.max(MIN_SLEEP_MS, nextProbe - Date.now());
    await sleep(Math.max(0, Math.min(pollMs, untilProbe, deadline - Date.now())), signal);
  }
}

/** Why a container can no longer become healthy: it exited, or Docker restarted it; undefined otherwise. */
export function crashReason(info: Pick<Info, "State" | "RestartCount">): string | undefined {
  const { State: state, RestartCount: restarts } = info;
  if (restarts > 0 || state.Restarting) {
    const n = Math.max(restarts, 1);
    const loop = `restarted ${n} time${n === 1 ? "" : "s"} (crash loop)`;
    // Once Docker has started it again, the exit code of the crash is gone from the state.
    return state.Restarting || !state.Running ? `${exitText(state)}; ${loop}` : loop;
  }
  if (state.Status === "exited" || state.Status === "dead") return exitText(state);
  if (state.Status === "removing") return "the container is being removed";
  return undefined;
}

function exitText(state: Info["State"]): string {
  if (state.OOMKilled) {
    return `was killed for using more memory than its limit (exit code ${state.ExitCode}); raise deploy.resources.limits.memory`;
  }
  if (state.Error) return `could not run: ${state.Error}`;
  return `exited with code ${state.ExitCode}`;
}

function deadlineReason(health: PlanHealth, answer: string): string {
  switch (health.type) {
    case "http":
      return `GET ${health.path} answered no 2xx or 3xx within ${seconds(health.deadlineMs)}; last check: ${answer.replace(/^GET \S+ → /, "")}`;
    case "docker":
      return `Docker did not report it healthy within ${seconds(health.deadlineMs)}; ${answer.replace(/^Docker health /, "health ")}`;
    case "running":
      return `did not start within ${seconds(START_GRACE_MS)}: ${answer}`;
  }
}

/** The host port Docker published `containerPort` (tcp) on, on 127.0.0.1. */
export async function publishedPort(
  docker: Docker,
  containerId: string,
  containerPort: number,
): Promise<number | undefined> {
  const info = await docker.getContainer(containerId).inspect();
  return hostPortOf(info, containerPort);
}

/** The host port of `containerPort` bound to 127.0.0.1, from an inspect answer (only while the container runs). */
export function hostPortOf(info: Pick<Info, "NetworkSettings">, containerPort: number) {
  const bindings = info.NetworkSettings?.Ports?.[`${containerPort}/tcp`] ?? [];
  const binding = bindings.find((b) => b.HostIp === "127.0.0.1");
  const port = Number(binding?.HostPort);
  return binding && Number.isInteger(port) && port > 0 ? port : undefined;
}

function lastHealthOutput(info: Info): string | undefined {
  const log = info.State.Health?.Log ?? [];
  const last = log[log.length - 1];
  if (!last) return undefined;
  const output = last.Output.trim().replace(/\s*\n\s*/g, " | ");
  const shown = output.length > MAX_OUTPUT_CHARS ? `…${output.slice(-MAX_OUTPUT_CHARS)}` : output;
  return `exit ${last.ExitCode}${shown ? `: ${shown}` : ""}`;
}

function hasHealthTest(info: Info): boolean {
  const test = info.Config?.Healthcheck?.Test ?? [];
  return test.length > 0 && test[0] !== "NONE";
}

/** "web replica 1" from Skiff's labels, else the container's name. */
function describeReplica(info: Info): string {
  const labels = info.Config?.Labels ?? {};
  const service = labels[LABELS.service];
  const replica = labels[LABELS.replica];
  if (service && replica) return `${service} replica ${replica}`;
  return info.Name.replace(/^\//, "");
}

/**
 * Progress for people, not one line per poll: quiet for the first second (most replicas
 * are healthy by then), then a line when the answer changes, and at least every 5 s.
 */
function progressReporter(onProgress: WaitOptions["onProgress"], start: number) {
  let lastAnswer: string | undefined;
  let lastAt = start;
  return (who: string, answer: string) => {
    if (!onProgress) return;
    const now = Date.now();
    if (now - start < PROGRESS_QUIET_MS) return;
    const changed = answer !== lastAnswer && now - lastAt >= PROGRESS_QUIET_MS;
    if (!changed && now - lastAt < PROGRESS_EVERY_MS && lastAnswer !== undefined) return;
    lastAnswer = answer;
    lastAt = now;
    onProgress(`waiting for ${who}: ${answer} (${Math.round((now - start) / 1000)} s)`);
  };
}

async function inspect(container: Docker.Container, signal: AbortSignal | undefined) {
  try {
    return await container.inspect(signal ? { abortSignal: signal } : {});
  } catch (error) {
    if (isGone(error)) return undefined;
    signal?.throwIfAborted();
    throw error;
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
