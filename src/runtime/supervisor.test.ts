import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isProcessRunning } from "../process-table.js";
import { openDatabase } from "../state/database.js";
import { Store } from "../state/store.js";
import { runningPid, stopProcess } from "./managed-process.js";
import { DataPlaneSupervisor, type SupervisedProcess } from "./supervisor.js";

const SLEEP = "/usr/bin/sleep";
const quiet = { info() {}, warn() {}, error() {} };

/** A real long-running process (sleep) standing in for a data-plane daemon. */
function sleeper(dir: string, overrides: Partial<SupervisedProcess> = {}): SupervisedProcess {
  return {
    name: "sleeper",
    command: SLEEP,
    args: ["300"],
    pidFile: join(dir, "sleeper.pid"),
    logFile: join(dir, "sleeper.log"),
    installHint: "install coreutils",
    writeConfig() {},
    isHealthy: async () => true,
    ...overrides,
  };
}

describe("DataPlaneSupervisor", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  function setup(overrides: Partial<SupervisedProcess> = {}, stableMs = 0) {
    const dir = mkdtempSync(join(tmpdir(), "skiff-supervisor-"));
    const store = new Store(openDatabase(":memory:"));
    const process = sleeper(dir, overrides);
    const supervisor = new DataPlaneSupervisor({
      processes: [process],
      store,
      logger: quiet,
      backoff: { initialMs: 200, maxMs: 800 },
      stableMs,
    });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanups.push(async () => {
      await supervisor.stop();
      await stopProcess(process, { graceMs: 1000 });
    });
    return { dir, store, process, supervisor };
  }
  const kinds = (store: Store) =>
    store
      .listEvents()
      .map((e) => e.kind)
      .reverse();

  it("starts a process that is not running, then adopts it on the next boot", async () => {
    const { store, process, supervisor } = setup();
    await supervisor.ensureAll();
    const pid = runningPid(process);
    expect(pid).toBeGreaterThan(0);
    expect(supervisor.states()).toMatchObject([
      { name: "sleeper", state: "running", pid, restarts: 0 },
    ]);

    const second = new DataPlaneSupervisor({ processes: [process], store, logger: quiet });
    await second.ensureAll();
    expect(runningPid(process)).toBe(pid);
    expect(kinds(store)).toEqual(["started", "adopted"]);
  });

  it("restarts a process that died and counts the restart", async () => {
    const { store, process, supervisor } = setup();
    await supervisor.ensureAll();
    const pid = runningPid(process) as number;
    globalThis.process.kill(pid, "SIGKILL");
    while (isProcessRunning(pid, SLEEP)) await new Promise((r) => setTimeout(r, 10));
    await supervisor.check();
    const newPid = runningPid(process);
    expect(newPid).toBeDefined();
    expect(newPid).not.toBe(pid);
    expect(supervisor.states()[0]).toMatchObject({ state: "running", restarts: 1 });
    expect(kinds(store)).toEqual(["started", "died", "restarted"]);
  });

  it("backs off a process that keeps dying soon after it starts, instead of restarting it in a loop", async () => {
    const { store, process, supervisor } = setup({}, 60_000);
    await supervisor.ensureAll();
    const kill = async () => {
      const pid = runningPid(process) as number;
      globalThis.process.kill(pid, "SIGKILL");
      while (isProcessRunning(pid, SLEEP)) await new Promise((r) => setTimeout(r, 10));
      return pid;
    };
    const first = await kill();
    await supervisor.check();
    expect(runningPid(process)).toBeUndefined();
    expect(store.listEvents()[0]?.message).toMatch(/restarting it in 0\.2s/);
    await supervisor.check();
    expect(runningPid(process)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 250));
    await supervisor.check();
    expect(runningPid(process)).not.toBe(first);
    expect(runningPid(process)).toBeDefined();
    await kill();
    await supervisor.check();
    expect(store.listEvents()[0]?.message).toMatch(/restarting it in 0\.4s/);
    expect(kinds(store)).toEqual(["started", "died", "restarted", "died"]);
  });

  it("notices the death of a watched process between regular checks and restarts it", async () => {
    const { store, process, supervisor } = setup({ watchMs: 20 });
    await supervisor.ensureAll();
    supervisor.start(); // regular checks every 2 s (the default): the watch must be what restarts it
    const pid = runningPid(process) as number;
    globalThis.process.kill(pid, "SIGKILL");
    const deadline = Date.now() + 1500;
    let restarted: number | undefined;
    while (Date.now() < deadline) {
      restarted = runningPid(process);
      if (
        restarted !== undefined &&
        restarted !== pid &&
        supervisor.states()[0]?.state === "running"
      )
        break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(restarted).toBeDefined();
    expect(restarted).not.toBe(pid);
    expect(kinds(store)).toEqual(["started", "died", "restarted"]);
  });

  it("replaces a live process after three failed health checks in a row", async () => {
    // Only the first process hangs: it stops answering, while its replacement answers.
    let hung: number | undefined;
    const { store, process, supervisor } = setup({
      isHealthy: async () => hung === undefined || runningPid(process) !== hung,
    });
    await supervisor.ensureAll();
    hung = runningPid(process);
    await supervisor.check();
    await supervisor.check();
    expect(runningPid(process)).toBe(hung);
    await supervisor.check();
    expect(runningPid(process)).toBeDefined();
    expect(runningPid(process)).not.toBe(hung);
    expect(kinds(store)).toEqual(["started", "unresponsive", "restarted"]);
  });

  it("backs off exponentially while starts fail, and says why", async () => {
    const { store, supervisor, dir } = setup({
      command: join(tmpdir(), "no-such-daemon"),
      installHint: "install the daemon",
    });
    await supervisor.ensureAll();
    const first = supervisor.states()[0];
    expect(first?.state).toBe("down");
    expect(first?.lastError).toContain("could not start the sleeper");
    expect(store.listEvents()[0]?.message).toContain("next attempt in 0.2s");
    await supervisor.check(); // too early: no attempt
    expect(store.listEvents()).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 250));
    await supervisor.check();
    expect(store.listEvents()[0]?.message).toContain("next attempt in 0.4s");
    expect(() => readFileSync(join(dir, "sleeper.pid"))).toThrow();
  });
});
