import { serverArguments } from "./config-render.js";
import type { EdgeServerSpec, EdgeSnapshot } from "./edge-state.js";
import { adminState, type ServerState } from "./runtime-state.js";

/** What a running HAProxy has, read through its runtime API. */
export interface ActualEdge {
  /** App backends (the fixed ones, such as the 404 page, left out). */
  backends: string[];
  servers: ServerState[];
  /** The domain map as loaded in memory. */
  domains: Map<string, string>;
}

/** A server added through the runtime API, out of the rotation until it is admitted. */
export interface ServerAddition {
  backend: string;
  server: EdgeServerSpec;
  /** Create it (weight 0, so no request reaches it yet) and start its checks. */
  create: string[];
  /**
   * Whether to wait for HAProxy's first passing check before `admit`: only
   * for a server Skiff has not checked itself, which is not draining.
   */
  waitForCheck: boolean;
  /** Put it in the rotation (or in drain, when it is draining). */
  admit: string[];
}

/** The runtime API changes to one backend. */
export interface BackendChanges {
  backend: string;
  add: ServerAddition[];
  /** Existing servers whose address, admin state or weight is not the desired one. */
  update: string[];
  /** Servers to take out gracefully: drain, wait, maint, delete. */
  remove: string[];
}

/** The changes that make a running HAProxy equal to the desired state. */
export interface EdgePlan {
  /**
   * Set when backends must appear or disappear: only a reload of the
   * rendered file does that. The runtime changes below go first, so the
   * reload finds departing backends already without domains and servers.
   */
  reload?: { added: string[]; removed: string[] };
  /** Only backends with something to change: the desired state's order, then departing ones. */
  backends: BackendChanges[];
  /** `add map` / `set map` / `del map` on the domain map. */
  maps: string[];
}

/**
 * Compares the desired state with the running one. Pure: the router sends
 * the result.
 *
 * Backends that appear or disappear need a reload; everything else is a
 * runtime API command, planned for the backends the running HAProxy has.
 * New servers start at weight 0. One that passed Skiff's own health check
 * (`checked`) is admitted at once: `set server B/S health up` "force[s] a
 * server's health to a new state ... regardless of some slow health checks"
 * (management.txt 9.3), i.e. to rise + fall - 1 passes, so it takes `fall`
 * failed checks in a row (SERVER_CHECK in config-render.ts) to take it out,
 * as for a server that has been passing all along, and HAProxy's checks go
 * on from there (measured on 2.6.12: the first check ran 0.1 s after the
 * admission; a server that refused connections was DOWN 0.2 s after it).
 * Any other new server waits for HAProxy's first passing check, because a
 * server added through the runtime API is UP the moment it is enabled,
 * before any check ran (measured on 2.6.12); so does a server an earlier
 * apply created and never admitted (weight 0). A departing
 * backend loses its domains and has its servers drained before the reload,
 * so no worker sends it a request once the reload is done; unless one of
 * its domains moves to a backend that only the reload brings, which it keeps
 * serving until then. Domains routed to a backend the running HAProxy lacks
 * wait for the reload, which loads them from the map file.
 */
export function planEdgeChanges(
  desired: EdgeSnapshot,
  actual: ActualEdge,
  mapFile: string,
): EdgePlan {
  const plan: EdgePlan = { backends: [], maps: [] };
  const want = new Set(desired.backends.map((b) => b.name));
  const have = new Set(actual.backends);
  const added = [...want].filter((b) => !have.has(b));
  const removed = [...have].filter((b) => !want.has(b)).sort();
  if (added.length > 0 || removed.length > 0) plan.reload = { added, removed };
  const serversOf = (backend: string) => actual.servers.filter((s) => s.backend === backend);

  for (const backend of desired.backends) {
    if (!have.has(backend.name)) continue;
    const changes: BackendChanges = { backend: backend.name, add: [], update: [], remove: [] };
    const running = new Map(serversOf(backend.name).map((s) => [s.name, s]));
    for (const server of backend.servers) {
      const id = `${backend.name}/${server.name}`;
      const current = running.get(server.name);
      if (!current) {
        changes.add.push({
          backend: backend.name,
          server,
          create: [
            `add server ${id} ${serverArguments(server, 0)}`,
            `enable health ${id}`,
            `enable server ${id}`,
          ],
          waitForCheck: !server.draining && !server.checked,
          admit: admission(id, server),
        });
        continue;
      }
      const { host, port } = server.address;
      const readdress =
        current.addr !== host || current.port !== port
          ? [`set server ${id} addr ${host} port ${port}`]
          : [];
      const admin = adminState(current.adminMask);
      if (!server.draining && current.weight === 0) {
        // Created by an apply that failed before admitting it (its check
        // never passed): it is admitted as a new server is, never at once.
        changes.add.push({
          backend: backend.name,
          server,
          create: [...readdress, ...(admin === "ready" ? [] : [`set server ${id} state ready`])],
          waitForCheck: !server.checked,
          admit: admission(id, server),
        });
        continue;
      }
      changes.update.push(...readdress);
      if (server.draining) {
        if (admin !== "drain") changes.update.push(`set server ${id} state drain`);
      } else {
        if (admin !== "ready") changes.update.push(`set server ${id} state ready`);
        if (current.weight !== 1) changes.update.push(`set server ${id} weight 1`);
      }
    }
    const names = new Set(backend.servers.map((s) => s.name));
    for (const current of running.values()) {
      if (!names.has(current.name)) changes.remove.push(current.name);
    }
    if (changes.add.length + changes.update.length + changes.remove.length > 0) {
      plan.backends.push(changes);
    }
  }

  const stillRouted = new Set<string>();
  for (const [host, backend] of desired.domains) {
    const current = actual.domains.get(host);
    if (!have.has(backend)) {
      if (current !== undefined && current !== backend) stillRouted.add(current);
      continue;
    }
    if (current === undefined) plan.maps.push(`add map ${mapFile} ${host} ${backend}`);
    else if (current !== backend) plan.maps.push(`set map ${mapFile} ${host} ${backend}`);
  }
  for (const host of actual.domains.keys()) {
    if (!desired.domains.has(host)) plan.maps.push(`del map ${mapFile} ${host}`);
  }
  for (const backend of removed) {
    const servers = serversOf(backend).map((s) => s.name);
    if (servers.length > 0 && !stillRouted.has(backend)) {
      plan.backends.push({ backend, add: [], update: [], remove: servers });
    }
  }
  return plan;
}

/** What puts a new server in the rotation: drain for a draining one; for one Skiff checked, its check state forced up first. */
function admission(id: string, server: EdgeServerSpec): string[] {
  if (server.draining) return [`set server ${id} state drain`];
  const weight = `set server ${id} weight 1`;
  return server.checked ? [`set server ${id} health up`, weight] : [weight];
}

/** Whether a plan changes nothing. */
export function isEmptyPlan(plan: EdgePlan): boolean {
  return !plan.reload && plan.backends.length === 0 && plan.maps.length === 0;
}

/**
 * The runtime API steps that take a server out without failing a request
 * (management.txt: `del server` needs the server in maintenance and without
 * connections). The router waits between `drain` and `maint` until the
 * server's in-flight requests are done.
 */
export function removalCommands(backend: string, server: string) {
  const id = `${backend}/${server}`;
  return {
    drain: `set server ${id} state drain`,
    maint: `set server ${id} state maint`,
    shutdown: `shutdown sessions server ${id}`,
    delete: `del server ${id}`,
  };
}
