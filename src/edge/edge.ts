import type { EdgeAppState } from "./edge-state.js";

/** A server as the edge sees it right now. */
export interface EdgeServerStatus {
  /** In the rotation's reach and the edge's own last check passed. */
  up: boolean;
  admin: "ready" | "drain" | "maint";
  /** Requests in flight on it. */
  sessions: number;
  /** Weight in use; new servers stay at 0 until they are admitted. */
  weight: number;
  /** The last health check in words, e.g. "L4CON (Layer4 connection problem: Connection refused)". */
  check: string;
}

/** Told which new servers of a backend were just admitted: the moment they take requests. */
export type AdmittedListener = (backend: string, servers: string[]) => void;

/**
 * What the deploy flow needs of the edge: each app's backends and domains,
 * set as a whole. `EdgeRouter` is the HAProxy implementation; scenario tests
 * use an in-memory one.
 *
 * Lifecycle: one edge for the life of the control plane. Every method may be
 * called concurrently for different apps (deploys of several apps, the
 * reconciler); an implementation serialises the changes, each applying the
 * desired state as it stands when its turn comes.
 */
export interface Edge {
  /**
   * Replaces one app's part of the desired state and resolves once the edge
   * matches it: new servers admitted, servers that left drained and removed.
   * New servers are admitted before any other server drains, so a backend
   * is never without one. Throws when it cannot match; the caller rolls back
   * by setting the previous state again.
   */
  setApp(
    app: string,
    state: EdgeAppState,
    options?: { onAdmitted?: AdmittedListener },
  ): Promise<{ reloaded: boolean }>;
  /** Takes an app off the edge (its domains, servers and backends); returns the domains it had. */
  removeApp(app: string): Promise<{ domains: string[] }>;
  /** Every server of a backend as the edge sees it now; NotFoundError for a backend it lacks. */
  serverStatus(backend: string): Promise<Map<string, EdgeServerStatus>>;
}
