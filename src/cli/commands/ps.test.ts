import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { SkiffConfig } from "../../config.js";
import { ExitError } from "../../errors.js";
import type { OperationLine, ProcessView } from "../../server/api/processes.js";
import {
  formatOperationFailure,
  parseScaleArguments,
  processRows,
  readOperation,
  registerProcessCommands,
} from "./ps.js";

/** What a function threw, for comparing as data. */
function thrown(work: () => unknown): { exitCode: number; message: string } | undefined {
  try {
    work();
  } catch (error) {
    if (error instanceof ExitError) return { exitCode: error.exitCode, message: error.message };
    throw error;
  }
  return undefined;
}

describe("parseScaleArguments", () => {
  it.each([
    [["web=3"], { web: 3 }],
    [["web=3", "worker=0"], { web: 3, worker: 0 }],
    [["api_v2=100"], { api_v2: 100 }],
    [["web=03"], { web: 3 }],
  ])("reads %j", (args, expected) => {
    expect(parseScaleArguments(args)).toEqual(expected);
  });

  it.each([
    ["web", "web"],
    ["web=", "web="],
    ["=3", "=3"],
    ["web=-1", "web=-1"],
    ["web=1.5", "web=1.5"],
    ["web=three", "web=three"],
    ["web=101", "web=101"],
    ["web:3", "web:3"],
  ])("refuses %j as a usage error naming it", (arg, named) => {
    expect(thrown(() => parseScaleArguments(["worker=1", arg]))).toEqual({
      exitCode: 2,
      message: `skiff: "${named}" is not SERVICE=REPLICAS with REPLICAS a whole number from 0 to 100 (e.g. web=3)`,
    });
  });

  it("refuses a service given twice", () => {
    expect(thrown(() => parseScaleArguments(["web=1", "web=2"]))).toEqual({
      exitCode: 2,
      message: 'skiff: web is given twice ("web=2")',
    });
  });
});

const PROCESSES: ProcessView[] = [
  {
    service: "web",
    replica: 1,
    release: 4,
    state: "running",
    health: "healthy",
    hostPort: "127.0.0.1:32768",
    uptime: 7260,
    restarts: 0,
    container: "skiff-shop-web-r4-1-a1b2c3",
  },
  {
    service: "worker",
    replica: 1,
    release: 4,
    state: "restarting",
    restarts: 3,
    container: "skiff-shop-worker-r4-1-d4e5f6",
  },
];

describe("processRows", () => {
  it("shows release, health, port, uptime and restarts, with gaps left for the table's dash", () => {
    expect(processRows(PROCESSES)).toEqual([
      ["web", 1, "r4", "running", "healthy", "127.0.0.1:32768", "2h", 0],
      ["worker", 1, "r4", "restarting", undefined, undefined, undefined, 3],
    ]);
  });
});

describe("formatOperationFailure", () => {
  it.each([
    {
      result: { type: "result", ok: false, error: "shop has no live release yet" },
      expected: "skiff: shop has no live release yet",
    },
    {
      result: {
        type: "result",
        ok: false,
        error: "web replica 2 did not become healthy within 30s",
        hint: "the replicas that served before keep serving",
        logTail: ["listening on :8081", "GET /healthz 404"],
      },
      expected: [
        "skiff: web replica 2 did not become healthy within 30s",
        "the replicas that served before keep serving",
        "last 2 lines of the failing container's log:",
        "  | listening on :8081",
        "  | GET /healthz 404",
      ].join("\n"),
    },
  ] as const)("$expected", ({ result, expected }) => {
    expect(formatOperationFailure({ ...result, logTail: [...(result.logTail ?? [])] })).toBe(
      expected,
    );
  });
});

async function* lines(...items: OperationLine[]): AsyncGenerator<string> {
  for (const item of items) yield JSON.stringify(item);
}

describe("readOperation", () => {
  it("prints progress as [service] text and resolves with the result", async () => {
    const printed: string[] = [];
    const result = await readOperation(
      lines(
        { type: "log", text: "scaling web to 2 (release r4)" },
        { type: "log", service: "web", text: "started replica 2" },
        { type: "result", ok: true },
      ),
      (text) => printed.push(text),
    );
    expect(printed).toEqual(["scaling web to 2 (release r4)", "[web] started replica 2"]);
    expect(result).toEqual({ type: "result", ok: true });
  });

  it("counts a stream that ends without a result as a failure", async () => {
    const result = await readOperation(lines({ type: "log", text: "scaling" }), () => {});
    expect(result).toMatchObject({ ok: false, error: expect.stringContaining("closed") });
  });
});

describe("skiff ps, scale and restart against an API", () => {
  let server: Server;
  let requests: { method: string; url: string; body: string }[];
  /** The NDJSON lines the next scale or restart answers with. */
  let answer: OperationLine[];
  let stdout: string[];

  beforeEach(async () => {
    requests = [];
    answer = [];
    stdout = [];
    server = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => {
        body += chunk;
      });
      request.on("end", () => {
        requests.push({ method: request.method ?? "", url: request.url ?? "", body });
        if (request.url?.endsWith("/ps")) {
          response.setHeader("content-type", "application/json");
          response.end(JSON.stringify({ replicas: PROCESSES }));
          return;
        }
        response.setHeader("content-type", "application/x-ndjson");
        response.end(answer.map((line) => `${JSON.stringify(line)}\n`).join(""));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    vi.stubEnv("SKIFF_URL", `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    vi.stubEnv("SKIFF_TOKEN", "skiff_test-token");
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      stdout.push(String(chunk));
      return true;
    });
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
    await new Promise((resolve) => server.close(resolve));
  });

  const run = (...args: string[]) => {
    const program = new Command("skiff").exitOverride();
    program.configureOutput({ writeErr: () => {}, writeOut: () => {} });
    registerProcessCommands(program, () => ({ port: 1, paths: {} }) as SkiffConfig);
    return program.parseAsync(["node", "skiff", ...args]);
  };

  it("scale sends the counts, prints progress, then the ps table", async () => {
    answer = [
      { type: "log", text: "scaling web to 2, worker to 0 (release r4)" },
      { type: "log", service: "web", text: "started replica 2" },
      { type: "result", ok: true },
    ];
    await run("scale", "shop", "web=2", "worker=0");
    expect(requests.map((r) => `${r.method} ${r.url} ${r.body}`)).toEqual([
      'POST /api/v1/apps/shop/scale {"web":2,"worker":0}',
      "GET /api/v1/apps/shop/ps ",
    ]);
    expect(stdout.join("")).toBe(
      [
        "scaling web to 2, worker to 0 (release r4)",
        "[web] started replica 2",
        "",
        "SERVICE  REPLICA  RELEASE  STATE       HEALTH   PORT             UPTIME  RESTARTS",
        "web      1        r4       running     healthy  127.0.0.1:32768  2h      0",
        "worker   1        r4       restarting  -        -                -       3",
        "",
      ].join("\n"),
    );
  });

  it("scale with a bad argument is a usage error and sends nothing", async () => {
    await expect(run("scale", "shop", "web=x")).rejects.toMatchObject({ exitCode: 2 });
    expect(requests).toEqual([]);
  });

  it("restart ends with exit 1, the reason and the log tail when it fails", async () => {
    answer = [
      { type: "log", service: "web", text: "starting replica 1" },
      {
        type: "result",
        ok: false,
        error: "web replica 1 did not become healthy within 30s",
        hint: "the replicas that served before keep serving",
        logTail: ["Error: EADDRINUSE"],
      },
    ];
    await expect(run("restart", "shop", "web")).rejects.toMatchObject({
      exitCode: 1,
      message: [
        "skiff: web replica 1 did not become healthy within 30s",
        "the replicas that served before keep serving",
        "last 1 line of the failing container's log:",
        "  | Error: EADDRINUSE",
      ].join("\n"),
    });
    expect(requests.map((r) => r.body)).toEqual(['{"service":"web"}']);
    expect(stdout.join("")).toBe("[web] starting replica 1\n");
  });

  it("ps --json prints the replicas as the API gives them", async () => {
    await run("ps", "shop", "--json");
    expect(JSON.parse(stdout.join(""))).toEqual(PROCESSES);
  });
});
