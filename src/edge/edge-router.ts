import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isDeepStrictEqual, promisify } from "node:util";
import { DependencyError, NotFoundError } from "../errors.js";
import { NOT_FOUND_PAGE, renderEdgeConfig } from "./config-render.js";
import { renderDomainMap } from "./domain-map.js";
import type { AdmittedListener, Edge, EdgeServerStatus } from "./edge.js";
import { type ActualEdge, type EdgePlan, planEdgeChanges, removalCommands } from "./edge-plan.js";
import {
  assertAppState,
  combineAppStates,
  type EdgeAppState,
  type EdgeSnapshot,
  FIXED_BACKENDS,
} from "./edge-state.js";
import { EdgeCommandError, EdgeRuntimeApi } from "./runtime-api.js";
import {
  adminState,
  describeCheck,
  parseServersState,
  parseShowBackend,
  parseShowMap,
  parseShowProc,
  parseShowStat,
  serverIsUp,
} from "./runtime-state.js";

export type { AdmittedListener, Edge, EdgeServerStatus } from "./edge.js";
export type {
  EdgeAppState,
  EdgeBackendSpec,
  EdgeServerSpec,
} from "./edge-state.js";

export interface EdgeRouterOptions {
  /** haproxy.cfg, rendered from the desired state on every change. */
  configFile: string;
  /** The domain map the frontend reads (`host backend` per line). */
  domainMapFile: string;
  notFoundPageFile: string;
  /** The desired state as JSON, so a control-plane restart starts from it. */
  stateFile: string;
  /** The runtime API socket (`stats socket` in the config). */
  runtimeSocket: string;
  /** The master CLI socket (`haproxy -W -S PATH`); reloads go through it. */
  masterSocket: string;
  httpPort: number;
  statsPort: number;
  /** Default: a client on runtimeSocket. */
  runtime?: EdgeRuntimeApi;
  /** Default: a client on masterSocket. */
  master?: EdgeRuntimeApi;
  /** Checks a rendered config before it replaces the current one. Default: `haproxy -c -f`. */
  validateConfig?: (file: string) => Promise<void>;
  timeouts?: {
    /** How long a removed server may finish its requests before they are cut (10 s). */
    drainMs?: number;
    /** How long a new server Skiff has not checked has to pass HAProxy's check before the apply fails (15 s). */
    upMs?: number;
    /** How long a reload may take until the new worker answers (15 s). */
    reloadMs?: number;
  };
  log?: (line: string) => void;
}

/** Debian's HAProxy 2.6. */
export const HAPROXY_BINARY = "/usr/sbin/haproxy";
const POLL_MS = 100;
/**
 * How often waitUntilUp asks HAProxy about new servers. Their first check
 * runs about 0.1 s after they are enabled (downinter in config-render.ts),
 * and a deploy waits on this, so ask often: each question is two short
 * commands on a local socket.
 */
const UP_POLL_MS = 25;

/**
 * Keeps a running HAProxy (master-worker) equal to Skiff's desired edge
 * state: apps' backends, their servers and their domains.
 *
 * Servers come and go through the runtime API with no reload; only when
 * backends appear or disappear is the rendered file loaded by a hitless
 * reload through the master CLI. The desired state is written to its file
 * before HAProxy is touched, and the rendered files (config, domain map)
 * before any reload and before a change resolves, so a restart or reload
 * starts from the whole desired state (the supervisor renders the files
 * from it before every start).
 *
 * Lifecycle: one router per HAProxy, for the life of the control plane.
 * setApp, removeApp and resync may be called concurrently (deploys of
 * several apps, the reconciler): they are serialised, each applying the
 * desired state as it stands when its turn comes. render, writeFiles,
 * serverStatus and waitUntilUp only read and may run at any time.
 */
export class EdgeRouter implements Edge {
  readonly runtime: EdgeRuntimeApi;
  readonly master: EdgeRuntimeApi;
  private state: Map<string, EdgeAppState> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * True once an apply finished and HAProxy matched the desired state; an
   * apply that failed leaves it false, so the next setApp applies again
   * even when it changes nothing.
   */
  private inSync = false;
  private readonly drainMs: number;
  private readonly upMs: number;
  private readonly reloadMs: number;
  private readonly log: (line: string) => void;

  constructor(private readonly options: EdgeRouterOptions) {
    this.runtime = options.runtime ?? new EdgeRuntimeApi(options.runtimeSocket);
    this.master = options.master ?? new EdgeRuntimeApi(options.masterSocket);
    this.drainMs = options.timeouts?.drainMs ?? 10_000;
    this.upMs = options.timeouts?.upMs ?? 15_000;
    this.reloadMs = options.timeouts?.reloadMs ?? 15_000;
    this.log = options.log ?? (() => {});
  }

  /**
   * Replaces one app's part of the desired state and applies the whole of
   * it. Resolves once HAProxy matches: new servers are in the rotation (at
   * once when Skiff checked them, `checked`; else once HAProxy's own check
   * passed), removed ones drained and deleted. On failure the
   * desired state keeps the new value (the files hold it); the caller rolls
   * back by setting the previous state again.
   *
   * `onAdmitted` hears when new servers of a backend get their weight,
   * before servers that leave are drained: the moment they take requests.
   */
  async setApp(
    app: string,
    state: EdgeAppState,
    options: { onAdmitted?: AdmittedListener } = {},
  ): Promise<{ reloaded: boolean }> {
    assertAppState(app, state);
    const copy = structuredClone(state);
    return this.exclusive(async () => {
      // The reconciler sets every app's state on every pass: an unchanged
      // one costs nothing (no state file, no runtime API) while HAProxy is
      // known to match. HAProxy restarted by the supervisor starts from
      // the files, which always hold the desired state.
      if (this.inSync && isDeepStrictEqual(this.desired().get(app), copy)) {
        return { reloaded: false };
      }
      const apps = new Map(this.desired());
      apps.set(app, copy);
      combineAppStates(apps); // a domain another app holds fails here, before anything changes
      this.commit(apps);
      return this.apply(options.onAdmitted);
    });
  }

  /** Takes an app off the edge: its domains, servers and backends. Returns the domains it had. */
  async removeApp(app: string): Promise<{ domains: string[] }> {
    return this.exclusive(async () => {
      const apps = new Map(this.desired());
      const domains = Object.keys(apps.get(app)?.domains ?? {}).sort();
      apps.delete(app);
      this.commit(apps);
      await this.apply();
      return { domains };
    });
  }

  /** Re-applies the whole desired state, e.g. after HAProxy restarted. Changes nothing when it matches. */
  async resync(): Promise<{ reloaded: boolean }> {
    return this.exclusive(() => this.apply());
  }

  /** The apps that have a part in the desired state (for a reconciler to find stale ones). */
  apps(): string[] {
    return [...this.desired().keys()].sort();
  }

  /** One app's part of the desired state (a copy), if it has one. */
  appState(app: string): EdgeAppState | undefined {
    const state = this.desired().get(app);
    return state ? structuredClone(state) : undefined;
  }

  /** The whole haproxy.cfg for the current desired state. */
  render(): string {
    return this.renderSnapshot(combineAppStates(this.desired()));
  }

  /**
   * Writes the config, domain map and 404 page for the current desired
   * state, each atomically. For the supervisor, before it starts HAProxy.
   */
  writeFiles(): void {
    const snapshot = combineAppStates(this.desired());
    for (const file of [
      this.options.configFile,
      this.options.runtimeSocket,
      this.options.masterSocket,
    ]) {
      mkdirSync(dirname(file), { recursive: true });
    }
    writeIfChanged(this.options.notFoundPageFile, NOT_FOUND_PAGE);
    writeIfChanged(this.options.domainMapFile, renderDomainMap(snapshot.domains));
    writeIfChanged(this.options.configFile, this.renderSnapshot(snapshot));
  }

  /** Every server of a backend as HAProxy sees it now. */
  async serverStatus(backend: string): Promise<Map<string, EdgeServerStatus>> {
    let state: string;
    let stat: string;
    try {
      [state, stat] = await Promise.all([
        this.runtime.execute(`show servers state ${backend}`),
        this.runtime.execute(`show stat ${backend} 4 -1`),
      ]);
    } catch (error) {
      if (
        error instanceof EdgeCommandError &&
        /can't find backend|no such proxy/i.test(error.reason)
      ) {
        throw new NotFoundError(`the edge has no backend ${backend}`);
      }
      throw error;
    }
    const rows = new Map(
      parseShowStat(stat)
        .filter((r) => r.pxname === backend)
        .map((r) => [r.svname, r]),
    );
    const status = new Map<string, EdgeServerStatus>();
    for (const server of parseServersState(state)) {
      const row = rows.get(server.name) ?? {};
      status.set(server.name, {
        up: serverIsUp(server),
        admin: adminState(server.adminMask),
        sessions: Number(row.scur ?? 0),
        weight: server.weight,
        check: describeCheck(row),
      });
    }
    return status;
  }

  /**
   * Resolves once HAProxy's own health check has passed for each server.
   * Throws on timeout, naming the servers that are not up and their last
   * check; rejects with an AbortError when the signal aborts.
   */
  async waitUntilUp(
    backend: string,
    servers: string[],
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      const status = await this.serverStatus(backend);
      const down = servers.filter((s) => !status.get(s)?.up);
      if (down.length === 0) return;
      if (Date.now() >= deadline) {
        const detail = down.map((s) => {
          const server = status.get(s);
          return server
            ? `${backend}/${s}: last check ${server.check}`
            : `${backend}/${s}: no such server`;
        });
        throw new DependencyError(
          `the edge's health check did not pass within ${timeoutMs / 1000} s for ${detail.join("; ")}`,
          "check that each replica answers the service's health path on its 127.0.0.1 port with a 2xx or 3xx status (HAProxy's check sends GET with the Host header of x-skiff.health), and look at the replica's log",
        );
      }
      await sleep(UP_POLL_MS, undefined, signal ? { signal } : {});
    }
  }

  /** Runs fn after every earlier apply has finished, successfully or not. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  private desired(): Map<string, EdgeAppState> {
    this.state ??= loadState(this.options.stateFile);
    return this.state;
  }

  private commit(apps: Map<string, EdgeAppState>): void {
    const json = `${JSON.stringify({ version: 1, apps: Object.fromEntries([...apps].sort()) }, null, 2)}\n`;
    mkdirSync(dirname(this.options.stateFile), { recursive: true });
    writeAtomic(this.options.stateFile, json);
    this.state = apps;
  }

  private renderSnapshot(snapshot: EdgeSnapshot): string {
    return renderEdgeConfig({
      httpPort: this.options.httpPort,
      statsPort: this.options.statsPort,
      runtimeSocket: this.options.runtimeSocket,
      domainMapFile: this.options.domainMapFile,
      notFoundPageFile: this.options.notFoundPageFile,
      backends: snapshot.backends,
    });
  }

  /**
   * Runtime API changes to the backends HAProxy has, then, if backends must
   * appear or disappear, the files and a reload, then whatever the reload
   * left to do (drain states), and a check that nothing differs.
   *
   * A change of servers and domains alone needs no file: the runtime API
   * makes it, and the files only matter at the next start or reload. So
   * they are written and validated (`haproxy -c`, 40 to 80 ms here) beside
   * the runtime changes instead of before them, off the path of a deploy's
   * switch. A start at any moment still starts whole: the supervisor
   * renders the files from the desired state, committed before this runs,
   * before every start.
   */
  private async apply(onAdmitted?: AdmittedListener): Promise<{ reloaded: boolean }> {
    this.inSync = false;
    const result = await this.applyAll(onAdmitted);
    this.inSync = true;
    return result;
  }

  private async applyAll(onAdmitted?: AdmittedListener): Promise<{ reloaded: boolean }> {
    const snapshot = combineAppStates(this.desired());
    const plan = planEdgeChanges(snapshot, await this.readActual(), this.options.domainMapFile);
    if (!plan.reload) {
      const [failures] = await Promise.all([
        this.applyRuntime(plan, onAdmitted),
        this.writeValidatedFiles(snapshot, { serversOnly: true }),
      ]);
      if (failures[0]) throw failures[0];
      return { reloaded: false };
    }
    await this.writeValidatedFiles(snapshot);
    const failures = await this.applyRuntime(plan, onAdmitted);
    await this.reload(plan.reload);
    const after = planEdgeChanges(snapshot, await this.readActual(), this.options.domainMapFile);
    if (after.reload) {
      throw new DependencyError(
        `the edge reloaded but still differs from the desired state (backends to add: ${after.reload.added.join(", ") || "none"}; to remove: ${after.reload.removed.join(", ") || "none"})`,
        `compare ${this.options.configFile} with the edge's log; skiff status shows the edge`,
      );
    }
    failures.push(...(await this.applyRuntime(after, onAdmitted)));
    if (failures[0]) throw failures[0];
    return { reloaded: true };
  }

  /**
   * Runtime API only, in the order that keeps every request served: create
   * new servers (weight 0), wait for the first passing check of those Skiff
   * has not checked itself, admit them all, only then drain others and
   * change domains, and remove servers last. A backend whose unchecked new
   * servers never pass keeps its old servers. Returns the failures, so that
   * one backend's does not stop the others.
   */
  private async applyRuntime(plan: EdgePlan, onAdmitted?: AdmittedListener): Promise<unknown[]> {
    const run = (command: string) => this.runtime.execute(command);
    const failures: unknown[] = [];
    const ready = new Set<string>();
    await Promise.all(
      plan.backends.map(async (changes) => {
        try {
          for (const addition of changes.add) {
            for (const command of addition.create) await run(command);
          }
          const newcomers = changes.add.filter((a) => !a.server.draining).map((a) => a.server.name);
          const unchecked = changes.add.filter((a) => a.waitForCheck).map((a) => a.server.name);
          if (unchecked.length > 0) await this.waitUntilUp(changes.backend, unchecked, this.upMs);
          for (const addition of changes.add)
            for (const command of addition.admit) await run(command);
          if (newcomers.length > 0) onAdmitted?.(changes.backend, newcomers);
          for (const command of changes.update) await run(command);
          ready.add(changes.backend);
        } catch (error) {
          failures.push(error);
        }
      }),
    );
    for (const command of plan.maps) {
      try {
        await run(command);
      } catch (error) {
        failures.push(error);
      }
    }
    await Promise.all(
      plan.backends
        .filter((changes) => ready.has(changes.backend))
        .flatMap((changes) =>
          changes.remove.map((server) => ({ backend: changes.backend, server })),
        )
        .map(async ({ backend, server }) => {
          try {
            await this.removeServer(backend, server);
          } catch (error) {
            failures.push(error);
          }
        }),
    );
    return failures;
  }

  /** drain → in-flight requests finish (bounded) → maint → cut what is left → delete. */
  private async removeServer(backend: string, server: string): Promise<void> {
    const commands = removalCommands(backend, server);
    try {
      await this.runtime.execute(commands.drain);
    } catch (error) {
      if (isNoSuchServer(error)) return;
      throw error;
    }
    const deadline = Date.now() + this.drainMs;
    let sessions = await this.sessions(backend, server);
    while (sessions > 0 && Date.now() < deadline) {
      await sleep(POLL_MS);
      sessions = await this.sessions(backend, server);
    }
    await this.runtime.execute(commands.maint);
    if (sessions > 0) {
      this.log(
        `edge: ${backend}/${server} still had ${sessions} requests after ${this.drainMs / 1000} s of drain; cutting them`,
      );
      await this.runtime.execute(commands.shutdown);
    }
    // `del server` refuses while connections are attached; those close
    // right after maint, so retry for a moment.
    const until = Date.now() + 5000;
    for (;;) {
      try {
        await this.runtime.execute(commands.delete);
        return;
      } catch (error) {
        if (isNoSuchServer(error)) return;
        if (Date.now() >= until) throw error;
        await sleep(POLL_MS);
      }
    }
  }

  private async sessions(backend: string, server: string): Promise<number> {
    const rows = parseShowStat(await this.runtime.execute(`show stat ${backend} 4 -1`));
    const row = rows.find((r) => r.pxname === backend && r.svname === server);
    return Number(row?.scur ?? 0) + Number(row?.qcur ?? 0);
  }

  private async readActual(): Promise<ActualEdge> {
    const [backends, servers, domains] = await Promise.all([
      this.runtime.execute("show backend"),
      this.runtime.execute("show servers state"),
      this.runtime.execute(`show map ${this.options.domainMapFile}`),
    ]);
    return {
      // "<HTTPCLIENT>" and the like are HAProxy's own internal proxies.
      backends: parseShowBackend(backends).filter(
        (b) => !FIXED_BACKENDS.includes(b) && !b.startsWith("<"),
      ),
      servers: parseServersState(servers),
      domains: parseShowMap(domains),
    };
  }

  /**
   * A hitless reload through the master CLI (`reload` = `kill -USR2` of the
   * master): the new worker takes the listening sockets over (expose-fd
   * listeners), the old one finishes its requests and closes idle
   * connections after their next response (idle-close-on-response). Returns
   * once the new worker answers on the runtime socket.
   */
  private async reload(change: { added: string[]; removed: string[] }): Promise<void> {
    const before = parseShowProc(await this.masterCommand("show proc"));
    try {
      await this.master.command("reload");
    } catch {
      // The master closes its CLI when it reloads; `show proc` tells the outcome.
    }
    const deadline = Date.now() + this.reloadMs;
    let worker: number | undefined;
    while (worker === undefined) {
      if (Date.now() >= deadline) throw this.reloadTimeout();
      await sleep(POLL_MS);
      let proc: ReturnType<typeof parseShowProc>;
      try {
        proc = parseShowProc(await this.master.command("show proc"));
      } catch {
        continue; // the master re-executes itself during a reload and is briefly away
      }
      if (proc.failedReloads > before.failedReloads) {
        throw new DependencyError(
          "the edge could not load its new configuration, so it keeps serving the previous one",
          `the edge's log says why; the file is ${this.options.configFile}`,
        );
      }
      const fresh = proc.workers.filter((pid) => !before.workers.includes(pid));
      if (proc.reloads > before.reloads && fresh[0] !== undefined) worker = fresh[0];
    }
    while (Number((await this.runtime.info().catch(() => ({ Pid: "" }))).Pid) !== worker) {
      if (Date.now() >= deadline) throw this.reloadTimeout();
      await sleep(POLL_MS);
    }
    const what = [...change.added.map((b) => `+${b}`), ...change.removed.map((b) => `-${b}`)].join(
      " ",
    );
    this.log(
      `edge: reloaded for backends ${what} (worker ${before.workers.join(",")} → ${worker})`,
    );
  }

  private reloadTimeout(): DependencyError {
    return new DependencyError(
      `the edge did not finish a reload within ${this.reloadMs / 1000} s`,
      `the edge's log says why; its master CLI is ${this.options.masterSocket}`,
    );
  }

  private async masterCommand(command: string): Promise<string> {
    try {
      return await this.master.command(command);
    } catch (error) {
      throw new DependencyError(
        `cannot reach the edge's master CLI at ${this.options.masterSocket}, which reloads need: ${(error as Error).message}`,
        "HAProxy must run in master-worker mode with -S on that socket, as `skiff server` starts it",
      );
    }
  }

  /** The domain map and 404 page, then the config: validated by HAProxy before it replaces the old one. */
  /**
   * The domain map and 404 page, then the config, validated by HAProxy
   * before it replaces the old one. With `serversOnly` (the backends are
   * those of the file HAProxy runs), a config that differs only in server
   * lines is not validated again: those lines are built from names and
   * addresses assertAppState checked, the same text the runtime API's `add
   * server` takes, and validation (`haproxy -c`, 40 to 90 ms here) would
   * otherwise be most of every deploy's edge change.
   */
  private async writeValidatedFiles(
    snapshot: EdgeSnapshot,
    options: { serversOnly?: boolean } = {},
  ): Promise<void> {
    mkdirSync(dirname(this.options.configFile), { recursive: true });
    writeIfChanged(this.options.notFoundPageFile, NOT_FOUND_PAGE);
    writeIfChanged(this.options.domainMapFile, renderDomainMap(snapshot.domains));
    const config = this.renderSnapshot(snapshot);
    const current = readOrUndefined(this.options.configFile);
    if (current === config) return;
    if (
      options.serversOnly &&
      current !== undefined &&
      withoutServers(current) === withoutServers(config)
    ) {
      writeAtomic(this.options.configFile, config);
      return;
    }
    const candidate = `${this.options.configFile}.new`;
    writeFileSync(candidate, config);
    try {
      await (this.options.validateConfig ?? validateWithHaproxy)(candidate);
      renameSync(candidate, this.options.configFile);
    } finally {
      rmSync(candidate, { force: true });
    }
  }
}

/**
 * `haproxy -c -f FILE`: parses the config and every file it names, binds
 * nothing. Not `-q`: with it, 2.6 prints nothing about what is invalid.
 */
async function validateWithHaproxy(file: string): Promise<void> {
  try {
    await promisify(execFile)(HAPROXY_BINARY, ["-c", "-f", file]);
  } catch (error) {
    const { stderr, stdout, code } = error as { stderr?: string; stdout?: string; code?: unknown };
    const alerts = `${stdout ?? ""}${stderr ?? ""}`
      .split("\n")
      .filter((line) => /ALERT|error/i.test(line))
      .join("\n");
    throw new DependencyError(
      `HAProxy rejects the rendered edge config (${HAPROXY_BINARY} -c exited with ${String(code)}):\n${alerts}`,
      "this is a bug in Skiff's config renderer; the previous config stays in place; report it with this message",
    );
  }
}

function loadState(file: string): Map<string, EdgeAppState> {
  if (!existsSync(file)) return new Map();
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as {
      apps?: Record<string, EdgeAppState>;
    };
    return new Map(
      Object.entries(parsed.apps ?? {}).map(([app, state]) => [app, withAddresses(state)]),
    );
  } catch (error) {
    throw new DependencyError(
      `cannot read the edge's desired state from ${file}: ${(error as Error).message}`,
      "move the file away and restart skiff; deploys and the reconciler fill the edge again",
    );
  }
}

/** State files written before servers had an address held only the port on 127.0.0.1. */
function withAddresses(state: EdgeAppState): EdgeAppState {
  for (const backend of state.backends) {
    backend.servers = backend.servers.map((server) => {
      const { port, ...rest } = server as typeof server & { port?: number };
      return server.address || port === undefined
        ? server
        : { ...rest, address: { host: "127.0.0.1", port } };
    });
  }
  return state;
}

/** A rendered config without its `server` lines: what a validation covers that a server change does not touch. */
function withoutServers(config: string): string {
  return config
    .split("\n")
    .filter((line) => !/^\s+server\s/.test(line))
    .join("\n");
}

function isNoSuchServer(error: unknown): boolean {
  return error instanceof EdgeCommandError && /no such server/i.test(error.reason);
}

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function writeIfChanged(file: string, content: string): void {
  if (readOrUndefined(file) !== content) writeAtomic(file, content);
}

/** Temp file + rename: a reader (HAProxy starting) sees the old or the new file, never half of one. */
function writeAtomic(file: string, content: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, content);
  renameSync(temporary, file);
}
