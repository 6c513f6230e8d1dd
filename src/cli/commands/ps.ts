import type { Command } from "commander";
import type { SkiffConfig } from "../../config.js";
import { ExitError } from "../../errors.js";
import type { OperationLine, ProcessView } from "../../server/api/processes.js";
import { ApiClient } from "../api-client.js";
import { print, printJson, table } from "../output.js";
import { shortDuration } from "./releases.js";

/** Exit codes (DESIGN.md): 1 the operation failed, 2 usage error. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

/** The most replicas one service may have (the server's bound too). */
const MAX_REPLICAS = 100;

/** `web=3 worker=0` → { web: 3, worker: 0 }; a bad argument is a usage error naming it. */
export function parseScaleArguments(args: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const arg of args) {
    const match = /^([A-Za-z0-9][A-Za-z0-9_.-]*)=(\d+)$/.exec(arg);
    const service = match?.[1];
    const replicas = Number(match?.[2]);
    if (!service || replicas > MAX_REPLICAS) {
      throw new ExitError(
        `skiff: "${arg}" is not SERVICE=REPLICAS with REPLICAS a whole number from 0 to ${MAX_REPLICAS} (e.g. web=3)`,
        EXIT_USAGE,
      );
    }
    if (Object.hasOwn(counts, service)) {
      throw new ExitError(`skiff: ${service} is given twice ("${arg}")`, EXIT_USAGE);
    }
    counts[service] = replicas;
  }
  return counts;
}

/** The `skiff ps` table's rows. */
export function processRows(replicas: ProcessView[]): (string | number | undefined)[][] {
  return replicas.map((p) => [
    p.service,
    p.replica,
    `r${p.release}`,
    p.state,
    p.health,
    p.hostPort,
    p.uptime !== undefined ? shortDuration(p.uptime) : undefined,
    p.restarts,
  ]);
}

function processTable(replicas: ProcessView[]): string {
  return table(
    ["SERVICE", "REPLICA", "RELEASE", "STATE", "HEALTH", "PORT", "UPTIME", "RESTARTS"],
    processRows(replicas),
  );
}

/** A progress line as people read it: `[web] started replica 2`. */
export function formatOperationLog(line: { service?: string; text: string }): string {
  return line.service ? `[${line.service}] ${line.text}` : line.text;
}

/** Why an operation failed, with its hint and the failing container's last log lines. */
export function formatOperationFailure(
  result: Extract<OperationLine, { type: "result"; ok: false }>,
): string {
  return [
    `skiff: ${result.error}`,
    ...(result.hint ? [result.hint] : []),
    ...(result.logTail?.length
      ? [
          `last ${result.logTail.length} line${result.logTail.length === 1 ? "" : "s"} of the failing container's log:`,
        ]
      : []),
    ...(result.logTail ?? []).map((line) => `  | ${line}`),
  ].join("\n");
}

/**
 * Reads a scale's or restart's NDJSON stream, handing each progress line to
 * `onLog`; resolves with the result line. A stream that ends without one
 * (the server stopped) counts as a failure.
 */
export async function readOperation(
  lines: AsyncIterable<string>,
  onLog: (text: string) => void,
): Promise<Extract<OperationLine, { type: "result" }>> {
  for await (const raw of lines) {
    const line = JSON.parse(raw) as OperationLine;
    if (line.type === "log") onLog(formatOperationLog(line));
    else if (line.type === "result") return line;
  }
  return {
    type: "result",
    ok: false,
    error: "the server closed the progress stream before the operation ended",
    hint: "the server may have stopped; skiff ps APP shows where the app is now",
  };
}

export function registerProcessCommands(program: Command, loadConfig: () => SkiffConfig): void {
  const client = () => new ApiClient(loadConfig());
  const appPath = (app: string, rest: string) => `/api/v1/apps/${encodeURIComponent(app)}/${rest}`;
  const listProcesses = async (api: ApiClient, app: string) =>
    (await api.get<{ replicas: ProcessView[] }>(appPath(app, "ps"))).replicas;

  /** Streams an operation, then ends the command by its outcome. */
  const operate = async (
    api: ApiClient,
    app: string,
    path: string,
    body: unknown,
    json: boolean | undefined,
    done: () => Promise<void>,
  ) => {
    const result = await readOperation(api.streamPost(appPath(app, path), body), (text) => {
      if (!json) print(text);
    });
    if (result.ok) return done();
    if (json) printJson(result);
    throw new ExitError(json ? "" : formatOperationFailure(result), EXIT_FAILED);
  };

  program
    .command("ps")
    .argument("<app>")
    .description("list an app's replicas: release, state, health, port, uptime, restarts")
    .option("--json", "print as JSON")
    .action(async (app: string, options: { json?: boolean }) => {
      const replicas = await listProcesses(client(), app);
      if (options.json) return printJson(replicas);
      if (replicas.length === 0) return print(`${app} runs no replicas.`);
      print(processTable(replicas));
    });

  program
    .command("scale")
    .argument("<app>")
    .argument("<counts...>", "SERVICE=REPLICAS, e.g. web=3 worker=0")
    .description("set replica counts (kept across restarts); waits until the new ones are healthy")
    .option("--json", "print the result as JSON instead of progress")
    .action(async (app: string, args: string[], options: { json?: boolean }) => {
      const counts = parseScaleArguments(args);
      const api = client();
      await operate(api, app, "scale", counts, options.json, async () => {
        const replicas = await listProcesses(api, app);
        if (options.json) return printJson({ ok: true, replicas });
        print("");
        print(processTable(replicas));
      });
    });

  program
    .command("restart")
    .argument("<app>")
    .argument("[service]", "only this service; default: every service")
    .description("replace replicas with fresh ones, each new one healthy before an old one stops")
    .option("--json", "print the result as JSON instead of progress")
    .action(async (app: string, service: string | undefined, options: { json?: boolean }) => {
      const api = client();
      await operate(api, app, "restart", service ? { service } : {}, options.json, async () => {
        if (options.json) return printJson({ ok: true });
        print(`Restarted ${service ?? "every service"} of ${app}.`);
      });
    });
}
