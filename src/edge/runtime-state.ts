/**
 * Parsers for what HAProxy 2.6's runtime API and master CLI answer. Pure, so
 * tests feed them text captured from the real HAProxy.
 */

/** One server as `show servers state` reports it (format version 1). */
export interface ServerState {
  backend: string;
  name: string;
  addr: string;
  port: number;
  /** srv_op_state: 0 stopped (down), 1 starting, 2 running, 3 stopping. */
  opState: number;
  /** srv_admin_state: a bit mask, see adminState(). */
  adminMask: number;
  /** srv_uweight: the weight in use (0 takes no new requests). */
  weight: number;
  /** srv_check_result: 0 unknown, 1 neutral, 2 failed, 3 passed, 4 conditionally passed. */
  checkResult: number;
}

const SERVER_STATE_COLUMNS = [
  "be_name",
  "srv_name",
  "srv_addr",
  "srv_op_state",
  "srv_admin_state",
  "srv_uweight",
  "srv_check_result",
  "srv_port",
] as const;

/**
 * Parses `show servers state [backend]`: a version line, a `#` header
 * naming the columns, then one space-separated line per server. Columns are
 * found by name, so added columns in later versions do not shift them.
 */
export function parseServersState(text: string): ServerState[] {
  const lines = text.split("\n");
  const header = lines.find((l) => l.startsWith("# be_id"));
  if (!header) return [];
  const columns = header.slice(2).trim().split(/\s+/);
  const index = Object.fromEntries(SERVER_STATE_COLUMNS.map((c) => [c, columns.indexOf(c)]));
  const servers: ServerState[] = [];
  for (const line of lines) {
    if (!line.trim() || line.startsWith("#") || !/^\d+ /.test(line)) continue;
    const fields = line.trim().split(/\s+/);
    const field = (name: (typeof SERVER_STATE_COLUMNS)[number]) => fields[index[name] ?? -1] ?? "";
    servers.push({
      backend: field("be_name"),
      name: field("srv_name"),
      addr: field("srv_addr"),
      port: Number(field("srv_port")),
      opState: Number(field("srv_op_state")),
      adminMask: Number(field("srv_admin_state")),
      weight: Number(field("srv_uweight")),
      checkResult: Number(field("srv_check_result")),
    });
  }
  return servers;
}

/**
 * The administrative state a `srv_admin_state` mask means (management.txt,
 * "show servers state"): any maintenance bit (forced 0x01, inherited 0x02,
 * from the configuration 0x04, resolution 0x20) wins over drain (forced 0x08,
 * inherited 0x10).
 */
export function adminState(mask: number): "ready" | "drain" | "maint" {
  if (mask & (0x01 | 0x02 | 0x04 | 0x20)) return "maint";
  if (mask & (0x08 | 0x10)) return "drain";
  return "ready";
}

/** Whether HAProxy routes to the server and its own last check passed. */
export function serverIsUp(server: Pick<ServerState, "opState" | "checkResult">): boolean {
  return (server.opState === 1 || server.opState === 2) && server.checkResult >= 3;
}

/**
 * Parses `show stat` CSV: the first line is `# ` and the column names, each
 * further line one proxy or server. Returns each row keyed by column name.
 */
export function parseShowStat(text: string): Record<string, string>[] {
  const lines = text.split("\n");
  const header = lines.find((l) => l.startsWith("# pxname,"));
  if (!header) return [];
  const columns = header.slice(2).split(",");
  return lines
    .filter((l) => l.trim() && !l.startsWith("#"))
    .map((line) => {
      const fields = line.split(",");
      const row: Record<string, string> = {};
      for (const [i, column] of columns.entries()) if (column) row[column] = fields[i] ?? "";
      return row;
    });
}

/**
 * A server's last health check in words, from its `show stat` row: e.g.
 * "L7STS 503 (Layer7 wrong status: HTTP status check returned code <503>)".
 */
export function describeCheck(row: Record<string, string>): string {
  const status = [row.check_status, row.check_code].filter(Boolean).join(" ");
  const detail = [row.check_desc, row.last_chk].filter(Boolean).join(": ");
  if (!status) return "no check has run yet";
  return detail ? `${status} (${detail})` : status;
}

/** Parses `show backend`: a `# name` header, then one backend per line. */
export function parseShowBackend(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
}

/** Parses `show map FILE`: one `0xID key value` line per entry. */
export function parseShowMap(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^0x[0-9a-f]+ (\S+) (.*)$/.exec(line.trim());
    if (match?.[1] && match[2] !== undefined) entries.set(match[1], match[2]);
  }
  return entries;
}

/** What the master CLI's `show proc` says about the master and its workers. */
export interface ProcessList {
  masterPid: number;
  /** Reloads since the master started, and how many of them failed. */
  reloads: number;
  failedReloads: number;
  /** Workers running the current configuration. */
  workers: number[];
  /** Workers from before a reload that still finish their connections. */
  oldWorkers: number[];
}

/**
 * Parses the master CLI's `show proc` (HAProxy 2.6):
 * `PID master RELOADS [failed: N] UPTIME VERSION`, then `# workers` and
 * `# old workers` sections with `PID worker RELOADS UPTIME VERSION` lines.
 */
export function parseShowProc(text: string): ProcessList {
  const list: ProcessList = {
    masterPid: 0,
    reloads: 0,
    failedReloads: 0,
    workers: [],
    oldWorkers: [],
  };
  let section: "master" | "workers" | "old" | "other" = "master";
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "# workers") section = "workers";
    else if (trimmed === "# old workers") section = "old";
    else if (trimmed.startsWith("#")) section = section === "master" ? "master" : "other";
    else {
      const master = /^(\d+)\s+master\s+(\d+)\s+\[failed: (\d+)\]/.exec(trimmed);
      if (master) {
        list.masterPid = Number(master[1]);
        list.reloads = Number(master[2]);
        list.failedReloads = Number(master[3]);
        continue;
      }
      const worker = /^(\d+)\s+worker\s/.exec(trimmed);
      if (worker && section === "workers") list.workers.push(Number(worker[1]));
      if (worker && section === "old") list.oldWorkers.push(Number(worker[1]));
    }
  }
  return list;
}
