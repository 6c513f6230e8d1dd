// What the deploy flow needs of whatever runs containers: one host's Docker
// Engine (deploy/docker/), later Docker Swarm. The flow (rollout.ts,
// converge.ts) is written once over this interface and the Edge.

import type { Address } from "../address.js";
import type { PlanService } from "../spec/index.js";

/** One running (or stopped, or dead) copy of a service, as the engine reports it. */
export interface Replica {
  /** The engine's id of it (a container id). */
  id: string;
  /** Unique among the engine's replicas, e.g. `skiff-shop-web-r12-1-a1b2c3`. */
  name: string;
  app: string;
  service: string;
  release: number;
  /** 1, 2, …: its place among the service's replicas. */
  replica: number;
  /** Docker's words: created, running, restarting, exited, paused, dead, removing. */
  state: string;
  /** From its own healthcheck, when it has one; otherwise absent. */
  health?: "starting" | "healthy" | "unhealthy";
  /** The container port the edge routes to, when the service has one. */
  containerPort?: number;
  /** Where the edge and Skiff's health checks reach containerPort. */
  address?: Address;
  /**
   * How it runs: serviceFingerprint of the release it was started from.
   * Absent on replicas an older Skiff started.
   */
  fingerprint?: string;
  /** On the app's network, so the app's other services reach it by name. */
  onAppNetwork: boolean;
  /** Seconds since the epoch. */
  createdAt: number;
}

/** A replica to start: which service, of which release, in which place, from which image. */
export interface ReplicaRequest {
  service: PlanService;
  release: number;
  replica: number;
  /** The image reference to run (as `prepare` returned it). */
  image: string;
  /** serviceFingerprint of the release for this service; the replica carries it. */
  fingerprint: string;
  /** The release's files for the service (a tar archive), in place before its first start. */
  files?: Buffer;
}

/** A release image the engine must be able to run: per service, the registry reference or local image id. */
export interface EngineImage {
  service: string;
  image: string;
  digest: string;
}

/** Progress for people, per service when it concerns one. */
export type Log = (text: string, service?: string) => void;

/** A replica that did not become healthy: why, and the end of its log. */
export class ReplicaFailure extends Error {
  constructor(
    message: string,
    readonly logTail: string[],
  ) {
    super(message);
    this.name = "ReplicaFailure";
  }
}

/**
 * Runs an app's replicas.
 *
 * Lifecycle: one engine for the life of the control plane. For one app the
 * deploy flow calls `prepare` before it starts anything of a release, then
 * `start`, `stop`, `resume` and `remove` as it rolls out; `tearDown` when
 * the app is destroyed. The flow holds a lock per app, so for one app these
 * never overlap, except that `remove` of old replicas may still run in the
 * background while the next operation starts; every method may run
 * concurrently for different apps, and `list` and `logTail` at any time.
 * Replicas of other installations on the same host are never listed or touched.
 */
export interface Engine {
  /**
   * Makes an app ready to run a release: its network and named volumes
   * exist, and every image is where replicas can run it (pulled when
   * needed). Returns, per service, the image reference to start.
   */
  prepare(input: {
    app: string;
    volumes: readonly string[];
    images: readonly EngineImage[];
    log: Log;
    signal?: AbortSignal;
  }): Promise<Record<string, string>>;
  /** Every replica of the app (of all apps without one), oldest first. */
  list(app?: string): Promise<Replica[]>;
  /**
   * Starts the replicas and waits until each is healthy by its service's
   * check. All or nothing: when one fails, every one of them is removed
   * and the first failure is thrown (a ReplicaFailure, or the signal's
   * reason when it aborted), never an error of the removal. Nothing starts
   * once the signal aborted. Returns them as they run, in request order.
   */
  start(
    app: string,
    requests: readonly ReplicaRequest[],
    options: StartOptions,
  ): Promise<Replica[]>;
  /** Stops a replica with its grace period and keeps it, so `resume` can start it again. */
  stop(replica: Replica): Promise<void>;
  /**
   * Starts a stopped replica again (a stop-first rollout that failed gives
   * the old one back); returns it as it runs now, with its new address.
   */
  resume(replica: Replica): Promise<Replica>;
  /** Stops a replica with its grace period and removes it with its ephemeral volumes; already gone is fine. */
  remove(replica: Replica): Promise<void>;
  /** How often it was restarted and since when it runs, for `skiff ps`. */
  details(replica: Replica): Promise<ReplicaDetails>;
  /** Its last log lines, oldest first. */
  logTail(replica: Replica, lines: number): Promise<string[]>;
  /**
   * Calls `onChange(app)` whenever a replica of an app may have changed by
   * itself (it exited, was restarted, turned unhealthy, was removed by
   * hand), until the returned stop() is called. Reconnects by itself.
   */
  watch(onChange: (app: string) => void, onTrouble?: (message: string) => void): { stop(): void };
  /** Removes every replica of the app (named volumes stay); returns their names. */
  tearDown(app: string): Promise<string[]>;
}

export interface ReplicaDetails {
  restarts: number;
  /** ISO time of its last start, if it ever started. */
  startedAt?: string;
}

export interface StartOptions {
  log: (text: string, service: string) => void;
  signal?: AbortSignal;
}

/** A replica that serves: running and not reported unhealthy by its healthcheck. */
export function isServing(replica: Replica): boolean {
  return replica.state === "running" && replica.health !== "unhealthy";
}

/**
 * The replica's name on the edge: its name after the app and service, e.g.
 * `r12-1-a1b2c3`, unique per replica.
 */
export function edgeServerName(replica: Pick<Replica, "name" | "app" | "service">): string {
  const prefix = `skiff-${replica.app}-${replica.service}-`;
  return replica.name.startsWith(prefix) ? replica.name.slice(prefix.length) : replica.name;
}
