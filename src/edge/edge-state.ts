import type { Address } from "../address.js";
import { ConflictError, ValidationError } from "../errors.js";
import { backendName } from "./domain-map.js";

/** One replica behind a backend, reached at its address. */
export interface EdgeServerSpec {
  /** Unique within its backend, e.g. "r12-1" (release 12, replica 1). */
  name: string;
  address: Address;
  /** Kept, but given no new requests: the step before a replica is removed. */
  draining?: boolean;
  /**
   * Skiff's own health check passed for this replica (the deploy waited for
   * it): the edge admits it as soon as it adds it, and HAProxy's checks go on
   * from there. Without it the edge waits for HAProxy's first passing check
   * before the replica gets any request, and before any other server drains.
   */
  checked?: boolean;
}

/** One web service of an app: a load-balanced, health-checked set of replicas. */
export interface EdgeBackendSpec {
  /** backendName(app, service). */
  name: string;
  /** Path of the HTTP health check, e.g. "/healthz"; 2xx and 3xx count as healthy. */
  healthPath: string;
  /** Host header of the health check; "localhost" when absent. */
  healthHost?: string;
  servers: EdgeServerSpec[];
}

/** One app's part of the edge's desired state. */
export interface EdgeAppState {
  backends: EdgeBackendSpec[];
  /** Host (lowercase, no port) → the name of one of this app's backends. */
  domains: Record<string, string>;
}

/** The whole desired state, every app together, in a stable order. */
export interface EdgeSnapshot {
  /** Sorted by name; servers keep their given order. */
  backends: EdgeBackendSpec[];
  /** Sorted by host. */
  domains: Map<string, string>;
}

/** Backend names HAProxy has that are not apps' (the 404 page). */
export const FIXED_BACKENDS: readonly string[] = ["skiff_not_found"];

// HAProxy's proxy and server names allow letters, digits and "_.:-"
// (configuration.txt, "4. Proxies": "names are case-sensitive ... upper and
// lower case letters, digits, '-' (dash), '_' (underscore) , '.' (dot) and
// ':' (colon)"). Anything else would break the config file or a CLI command.
const NAME = /^[A-Za-z0-9_.:-]+$/;
// RFC 1123 host names in lowercase: the frontend lowercases the Host header
// before the map lookup, so an uppercase key could never match.
const HOST =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
// A URL path without whitespace, quotes, backslash or "#" (HAProxy's config
// parser treats those as quoting, escaping or a comment) and without ";"
// (the runtime API's command separator).
/** Where a server listens: an IPv4 address or a DNS name (a Swarm node's). */
const ADDRESS_HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const HEALTH_PATH = /^\/[A-Za-z0-9\-._~!$&()*+,=:@%/?]*$/;
const HEALTH_HOST = /^[A-Za-z0-9.-]+(:[0-9]{1,5})?$/;

/**
 * Every problem with one app's edge state, each naming where it is; empty
 * when the state is valid. Backends must carry the app's prefix so that no
 * app can replace another's.
 */
export function appStateProblems(app: string, state: EdgeAppState): string[] {
  const problems: string[] = [];
  const prefix = backendName(app, "");
  const names = new Set<string>();
  for (const [i, backend] of state.backends.entries()) {
    const at = `backends[${i}] (${backend.name})`;
    if (!NAME.test(backend.name) || !backend.name.startsWith(prefix) || backend.name === prefix) {
      problems.push(
        `${at}: the name must be backendName("${app}", service), i.e. start with "${prefix}", and use only letters, digits and "_.:-"`,
      );
    }
    if (names.has(backend.name)) problems.push(`${at}: the backend appears twice`);
    names.add(backend.name);
    if (!HEALTH_PATH.test(backend.healthPath)) {
      problems.push(
        `${at}: healthPath ${JSON.stringify(backend.healthPath)} must start with "/" and contain no spaces, quotes, "\\", "#" or ";"`,
      );
    }
    if (backend.healthHost !== undefined && !HEALTH_HOST.test(backend.healthHost)) {
      problems.push(
        `${at}: healthHost ${JSON.stringify(backend.healthHost)} must be a host name, optionally with ":port"`,
      );
    }
    const servers = new Set<string>();
    for (const [j, server] of backend.servers.entries()) {
      const where = `${at}.servers[${j}] (${server.name})`;
      if (!NAME.test(server.name)) {
        problems.push(`${where}: the name may use only letters, digits and "_.:-"`);
      }
      if (servers.has(server.name)) problems.push(`${where}: the server appears twice`);
      servers.add(server.name);
      const { host, port } = server.address;
      if (!ADDRESS_HOST.test(host)) {
        problems.push(`${where}: host "${host}" is not an IPv4 address or a DNS name`);
      }
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        problems.push(`${where}: port ${port} is not a TCP port (1-65535)`);
      }
    }
  }
  for (const [host, backend] of Object.entries(state.domains)) {
    if (!HOST.test(host)) {
      problems.push(
        `domains.${host}: not a lowercase host name (letters, digits, "-" and "."; no port)`,
      );
    }
    if (!names.has(backend)) {
      problems.push(
        `domains.${host}: routes to ${backend}, which is not one of this app's backends`,
      );
    }
  }
  return problems;
}

/** Throws a ValidationError listing every problem with one app's edge state. */
export function assertAppState(app: string, state: EdgeAppState): void {
  const problems = appStateProblems(app, state);
  if (problems.length > 0) {
    throw new ValidationError(
      `the edge state for app ${app} is invalid:\n  ${problems.join("\n  ")}`,
      "this is a bug in the code that builds the edge state (toEdgeBackends); report it with this message",
    );
  }
}

/**
 * Merges every app's state into one snapshot in a stable order, so the
 * rendered files only change when the state does. Throws a ConflictError
 * when two apps claim the same domain.
 */
export function combineAppStates(apps: ReadonlyMap<string, EdgeAppState>): EdgeSnapshot {
  const backends: EdgeBackendSpec[] = [];
  const owners = new Map<string, string>();
  const domains: [string, string][] = [];
  for (const [app, state] of [...apps].sort(([a], [b]) => compare(a, b))) {
    backends.push(...state.backends);
    for (const [host, backend] of Object.entries(state.domains)) {
      const owner = owners.get(host);
      if (owner !== undefined) {
        throw new ConflictError(
          `the domain ${host} is already routed to app ${owner}, so app ${app} cannot have it`,
          `remove ${host} from ${owner}'s x-skiff.domains (and deploy ${owner}) first, or choose another domain`,
        );
      }
      owners.set(host, app);
      domains.push([host, backend]);
    }
  }
  return {
    backends: backends.sort((a, b) => compare(a.name, b.name)),
    domains: new Map(domains.sort(([a], [b]) => compare(a, b))),
  };
}

/** Code-point order: stable across locales, unlike localeCompare. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
