import { spawn } from "node:child_process";
import { closeSync, fchmodSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import type { SkiffConfig } from "../../config.js";
import { managedEdgeSpec } from "../../edge/managed-edge.js";
import { ExitError } from "../../errors.js";
import { managedRegistrySpec } from "../../registry/managed-registry.js";
import { runningPid, stopProcess, tailFile } from "../../runtime/managed-process.js";
import { startServer } from "../../server/main.js";
import { RotatingLog, SERVER_LOG_FILES, SERVER_LOG_MAX_BYTES } from "../../server/rotating-log.js";
import { print, printJson } from "../output.js";

const BIN = fileURLToPath(new URL("../../../bin/skiff", import.meta.url));

/** The control plane's own process, found through its pid file. */
function serverProcess(config: SkiffConfig) {
  return {
    pidFile: config.paths.serverPid,
    command: process.execPath,
    args: ["bin/skiff", "server"],
  };
}

async function isServing(config: SkiffConfig): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${config.port}/api/v1/healthz`, {
      signal: AbortSignal.timeout(1000),
    });
    return response.ok;
  } catch {
    return false;
  }
}

export function registerServerCommands(program: Command, loadConfig: () => SkiffConfig): void {
  const server = program
    .command("server")
    .description(
      "run the control plane in the foreground (start|stop|status run it in the background)",
    )
    .option("--port <port>", "API port (default 7070, or SKIFF_PORT)")
    .option(
      "--log-file <file>",
      `log to FILE instead of stderr, cut at ${SERVER_LOG_MAX_BYTES / 1024 / 1024} MB with ${SERVER_LOG_FILES} files kept (what \`server start\` does)`,
    )
    .action(async (options: { port?: string; logFile?: string }) => {
      if (options.port) process.env.SKIFF_PORT = options.port;
      const config = loadConfig();
      // The server writes its log itself, so it is also the one that rotates it.
      const logFile = options.logFile ? openServerLog(options.logFile) : undefined;
      const running = await startServer(
        config,
        logFile ? { log: (line) => logFile.line(line), logStream: logFile } : {},
      );
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once("SIGTERM", stop);
        process.once("SIGINT", stop);
      });
      // The registry and the edge keep running: they serve while the control plane is down.
      await running.close();
      logFile?.close();
    });

  server
    .command("start")
    .description("start the control plane in the background (log and pid file under $SKIFF_HOME)")
    .option("--port <port>", "API port (default 7070, or SKIFF_PORT)")
    .option("--json", "print the result as JSON")
    .action(async (options: { port?: string; json?: boolean }) => {
      if (options.port) process.env.SKIFF_PORT = options.port;
      const config = loadConfig();
      const existing = runningPid(serverProcess(config));
      if (await isServing(config)) {
        report(
          options.json,
          { running: true, pid: existing, url: url(config), started: false },
          `skiff server already runs (pid ${existing ?? "unknown"}) at ${url(config)}`,
        );
        return;
      }
      mkdirSync(config.paths.logs, { recursive: true, mode: 0o700 });
      // The server writes and rotates server.log itself (--log-file). Its
      // stderr still goes to the file, for what is printed before the log is
      // set up (a failed start, which is shown below) or by Node itself on a
      // fatal error; after a rotation that lands in server.log.1 or later.
      const log = openSync(config.paths.serverLog, "a", 0o600);
      fchmodSync(log, 0o600);
      const child = spawn(process.execPath, [BIN, "server", "--log-file", config.paths.serverLog], {
        detached: true,
        stdio: ["ignore", "ignore", log],
        env: process.env,
      });
      closeSync(log);
      child.unref();
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        if (child.exitCode !== null) break;
        if (await isServing(config)) {
          report(
            options.json,
            { running: true, pid: child.pid, url: url(config), started: true },
            `skiff server started (pid ${child.pid}) at ${url(config)}\nlog: ${config.paths.serverLog}`,
          );
          return;
        }
        await sleep(200);
      }
      throw new ExitError(
        `skiff server did not start; last lines of ${config.paths.serverLog}:\n${tailFile(config.paths.serverLog)}`,
        1,
      );
    });

  server
    .command("stop")
    .description("stop the background control plane; the registry and the edge keep serving")
    .option("--all", "also stop the registry and the edge (every app goes offline)")
    .action(async (options: { all?: boolean }) => {
      const config = loadConfig();
      const stopped = await stopProcess(serverProcess(config), { graceMs: 15_000 });
      print(stopped ? "skiff server stopped" : "skiff server was not running");
      if (options.all) {
        for (const spec of [managedEdgeSpec(config), managedRegistrySpec(config)]) {
          const was = await stopProcess(spec);
          print(`${spec.name} ${was ? "stopped" : "was not running"}`);
        }
      }
    });

  server
    .command("status")
    .description("show whether the control plane, the registry and the edge processes run")
    .option("--json", "print the result as JSON")
    .action(async (options: { json?: boolean }) => {
      const config = loadConfig();
      const pid = runningPid(serverProcess(config));
      const serving = await isServing(config);
      const processes = [managedRegistrySpec(config), managedEdgeSpec(config)].map((spec) => ({
        name: spec.name,
        pid: runningPid(spec),
      }));
      const result = {
        running: serving,
        pid,
        url: url(config),
        log: config.paths.serverLog,
        processes,
      };
      if (options.json) printJson(result);
      else {
        print(
          serving
            ? `skiff server runs (pid ${pid ?? "unknown"}) at ${url(config)}`
            : "skiff server is not running",
        );
        for (const p of processes)
          print(`${p.name}: ${p.pid ? `running (pid ${p.pid})` : "not running"}`);
      }
      if (!serving) throw new ExitError("", 1);
    });
}

/** The rotating server log at `file`, its directory created owner-only. */
function openServerLog(file: string): RotatingLog {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  return new RotatingLog({ file });
}

function url(config: SkiffConfig): string {
  return `http://127.0.0.1:${config.port}`;
}

function report(json: boolean | undefined, data: object, text: string): void {
  if (json) printJson(data);
  else print(text);
}
