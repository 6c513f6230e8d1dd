import type Docker from "dockerode";
import { appNetworkName } from "../docker/engine.js";
import { backendName } from "../edge/domain-map.js";
import type { EdgeRouter } from "../edge/edge-router.js";
import { NotFoundError, ValidationError } from "../errors.js";
import type { RegistryCredentials } from "../registry/client.js";
import { ensureImage } from "../registry/pull.js";
import { type AppSpec, type Plan, type PlanService, toPlan } from "../spec/index.js";
import type { DeploymentStore } from "../state/deployments.js";
import type { ReleaseFileStore } from "../state/release-files.js";
import type { ReleaseRecord, RunStore } from "../state/runs.js";
import { toEdgeAppState } from "./edge-targets.js";
import { httpUnhealthy } from "./http-health-watch.js";
import { ReplicaFailure, retireReplica, startReplica } from "./replica-lifecycle.js";
import { edgeServerName, isServing, listReplicas, type Replica } from "./replicas.js";
import { rollOut, stopsFirst } from "./rollout.js";

export interface DeployerOptions {
  docker: Docker;
  /** LABELS.instance of this installation: only its containers are touched. */
  instance: string;
  edge: EdgeRouter;
  runs: RunStore;
  deployments: DeploymentStore;
  /** Host of the registry in image references, e.g. 127.0.0.1:5000. */
  registryAddress: string;
  registryUrl: string;
  registryAuth?: RegistryCredentials;
  /** Each release's files (binds, secrets, configs); without it, replicas get none. */
  releaseFiles?: ReleaseFileStore;
  /** Things the platform did by itself (a replaced replica), for `skiff events`. */
  recordEvent?: (app: string, message: string) => void;
}

export type Log = (text: string, service?: string) => void;

/** The reconciler's first wait after a replica failed to start; it doubles up to the maximum. */
const START_BACKOFF_MS = 5_000;
const MAX_START_BACKOFF_MS = 5 * 60_000;

/** A deploy that did not go live: the reason and the failing container's last log lines. */
export class DeployFailure extends Error {
  constructor(
    message: string,
    readonly logTail: string[],
  ) {
    super(message);
    this.name = "DeployFailure";
  }
}

/**
 * Runs releases on the local Docker host behind the edge, and keeps them
 * running. Every operation on one app (deploy, scale, restart, reconcile)
 * holds that app's lock, so they never interleave; different apps proceed
 * in parallel.
 */
export class Deployer {
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Answers of sameService: whether two releases run a service the same way. */
  private readonly sameServiceCache = new Map<string, boolean>();
  /** Per app/service: when the reconciler may try again to start a replica that failed. */
  private readonly startBackoff = new Map<string, { until: number; delayMs: number }>();
  /** Old replicas being stopped and removed in the background, by container id. */
  private readonly retiring = new Map<
    string,
    { app: string; service: string; done: Promise<void> }
  >();

  constructor(private readonly options: DeployerOptions) {}

  /** Makes release `number` of `app` live through a health-gated rollout; throws DeployFailure. */
  deploy(app: string, number: number, log: Log, signal?: AbortSignal): Promise<void> {
    return this.exclusive(app, async () => {
      const { runs, deployments, docker } = this.options;
      const release = this.release(app, number);
      const plan = planOf(release, app);
      const desired = deployments.desired(app);
      const live =
        desired.release !== undefined ? runs.getReleaseByNumber(app, desired.release) : undefined;
      let retire: Replica[];
      try {
        const images = await this.pullImages(release, log, signal);
        await this.untilRetired(app, plan.services.filter(stopsFirst));
        const current = await this.replicasOf(app);
        const keep = live
          ? plan.services
              .filter((s) => {
                const serving = current.filter(
                  (r) => r.service === s.name && isServing(r) && this.runsAsIn(app, r, release),
                );
                return (
                  serving.length === replicasOf(s, desired.scale) &&
                  serving.length === current.filter((r) => r.service === s.name).length
                );
              })
              .map((s) => s.name)
          : [];
        ({ retire } = await rollOut(
          { docker, edge: this.options.edge },
          {
            instance: this.options.instance,
            app,
            release: number,
            plan,
            ...(live ? { previousPlan: planOf(live, app) } : {}),
            images,
            files: this.filesOf(app, number),
            replicas: (s) => replicasOf(s, desired.scale),
            current,
            keep,
            log,
            ...(signal ? { signal } : {}),
          },
        ));
      } catch (error) {
        deployments.markFailed(app, number);
        throw asDeployFailure(error);
      }
      deployments.setLive(app, number);
      for (const key of this.startBackoff.keys()) {
        if (key.startsWith(`${app}/`)) this.startBackoff.delete(key);
      }
      if (retire.length > 0) {
        log(
          `release r${number} is live; ${retire.length} old replica(s) stop in the background, each with its stop_grace_period`,
        );
      } else {
        log(`release r${number} is live`);
      }
      this.retireInBackground(app, retire);
    });
  }

  /** Sets replica counts (persisted) and converges to them without dropping a request. */
  scale(app: string, counts: Record<string, number>, log: Log): Promise<void> {
    return this.exclusive(app, async () => {
      const plan = this.livePlan(app);
      for (const [service, replicas] of Object.entries(counts)) {
        if (!plan.services.some((s) => s.name === service)) {
          throw new ValidationError(
            `${app} has no service named "${service}"`,
            `services of the live release: ${plan.services.map((s) => s.name).join(", ")}`,
          );
        }
        const planned = plan.services.find((s) => s.name === service);
        if (planned?.kind === "stateful" && replicas > 1) {
          throw new ValidationError(
            `${service} is stateful (it has a named volume), so it runs at most one replica: two would share the volume`,
            `scale it to 0 or 1; a service that must run many replicas keeps its data in another service`,
          );
        }
        if (!Number.isInteger(replicas) || replicas < 0 || replicas > 100) {
          throw new ValidationError(
            `replicas for ${service} must be a whole number from 0 to 100 (got ${replicas})`,
            "e.g. skiff scale APP web=3",
          );
        }
      }
      this.options.deployments.setScale(app, counts);
      await this.converge(app, log);
    });
  }

  /** Replaces every replica (of one service or all) with a fresh one, new before old goes. */
  restart(app: string, service: string | undefined, log: Log): Promise<void> {
    return this.exclusive(app, async () => {
      const { docker, deployments } = this.options;
      const desired = deployments.desired(app);
      const release = this.release(app, this.liveNumber(app));
      const plan = planOf(release, app);
      if (service && !plan.services.some((s) => s.name === service)) {
        throw new ValidationError(
          `${app} has no service named "${service}"`,
          `services of the live release: ${plan.services.map((s) => s.name).join(", ")}`,
        );
      }
      const images = await this.pullImages(release, log);
      await this.untilRetired(app, plan.services.filter(stopsFirst));
      const current = (await this.replicasOf(app)).filter((r) => this.runsAsIn(app, r, release));
      let retire: Replica[];
      try {
        ({ retire } = await rollOut(
          { docker, edge: this.options.edge },
          {
            instance: this.options.instance,
            app,
            release: release.number,
            plan,
            previousPlan: plan,
            images,
            files: this.filesOf(app, release.number),
            replicas: (s) => replicasOf(s, desired.scale),
            current,
            ...(service ? { only: [service] } : {}),
            log,
          },
        ));
      } catch (error) {
        throw asDeployFailure(error);
      }
      this.retireInBackground(app, retire);
    });
  }

  /**
   * Stops everything of `app` (it is being destroyed): the desired state is
   * forgotten first, so the reconciler does not start it again, then its
   * routes leave the edge and its containers are removed. Returns the
   * domains that routed to it and the containers removed.
   */
  forget(app: string): Promise<{ domains: string[]; containers: string[] }> {
    return this.exclusive(app, async () => {
      const { docker, deployments, edge } = this.options;
      deployments.forget(app);
      // A new app of the same name numbers its releases from 1 again.
      for (const cache of [this.sameServiceCache, this.startBackoff]) {
        for (const key of cache.keys()) if (key.startsWith(`${app}/`)) cache.delete(key);
      }
      const domains = Object.keys(edge.appState(app)?.domains ?? {}).sort();
      await edge.removeApp(app);
      const replicas = await listReplicas(docker, this.options.instance, app);
      await Promise.all(
        replicas.map((r) =>
          docker
            .getContainer(r.id)
            // v: the anonymous (ephemeral) volumes go with it; named volumes stay.
            .remove({ force: true, v: true })
            .catch(() => {}),
        ),
      );
      this.options.releaseFiles?.forget(app);
      return { domains, containers: replicas.map((r) => r.name) };
    });
  }

  /**
   * The app's containers as Docker reports them, with restarts and start
   * times; an old replica still running out its grace period is "stopping".
   */
  async ps(app: string): Promise<(Replica & { restarts: number; startedAt?: string })[]> {
    const replicas = await listReplicas(this.options.docker, this.options.instance, app);
    const edgeHealth = await this.edgeHealth(app, replicas);
    return Promise.all(
      replicas.map(async (r) => {
        const info = await this.options.docker
          .getContainer(r.id)
          .inspect()
          .catch(() => undefined);
        const health = r.health ?? edgeHealth.get(r.id);
        return {
          ...r,
          // Off the edge already, waiting out its stop_grace_period.
          ...(this.retiring.has(r.id) && r.state === "running" ? { state: "stopping" } : {}),
          ...(health ? { health } : {}),
          restarts: info?.RestartCount ?? 0,
          ...(info?.State.StartedAt && !info.State.StartedAt.startsWith("0001")
            ? { startedAt: info.State.StartedAt }
            : {}),
        };
      }),
    );
  }

  /**
   * Whether a replica runs its service as `release` has it: the same image
   * and settings (sameService), on the app's network. A replica off that
   * network (made by an older Skiff, which named networks without the
   * instance) cannot reach the other services by name, so it does not count.
   */
  private runsAsIn(app: string, replica: Replica, release: ReleaseRecord): boolean {
    return (
      replica.networks.includes(appNetworkName(app, this.options.instance)) &&
      this.sameService(app, replica.release, release, replica.service)
    );
  }

  /**
   * Health of replicas without a Docker healthcheck, as the edge's own check
   * sees them right now (a check a second): web replicas are checked over
   * HTTP there. Replicas the edge does not have, or an edge that does not
   * answer, give no entry.
   */
  private async edgeHealth(
    app: string,
    replicas: readonly Replica[],
  ): Promise<Map<string, "healthy" | "unhealthy">> {
    const health = new Map<string, "healthy" | "unhealthy">();
    const services = new Set(replicas.filter((r) => !r.health).map((r) => r.service));
    for (const service of services) {
      const status = await this.options.edge
        .serverStatus(backendName(app, service))
        .catch(() => undefined);
      if (!status) continue;
      for (const replica of replicas.filter((r) => r.service === service && !r.health)) {
        const server = status.get(edgeServerName(replica));
        if (server) health.set(replica.id, server.up ? "healthy" : "unhealthy");
      }
    }
    return health;
  }

  /**
   * Brings one app to its desired state: the live release with the desired
   * replicas per service, each serving, on the edge; everything else with
   * Skiff's labels removed. Missing replicas start (and must be healthy)
   * before anything is taken away, so traffic is served throughout.
   */
  reconcile(app: string, log: Log = () => {}): Promise<void> {
    return this.exclusive(app, () => this.converge(app, log));
  }

  /**
   * Reconciles every app with a live release or with containers. With
   * skipBusy, apps a deploy is working on are left for later.
   */
  async reconcileAll(log: Log = () => {}, options: { skipBusy?: boolean } = {}): Promise<void> {
    const apps = new Set(this.options.deployments.deployedApps());
    for (const r of await listReplicas(this.options.docker, this.options.instance)) apps.add(r.app);
    for (const app of apps) {
      if (options.skipBusy && this.busy(app)) continue;
      await this.reconcile(app, (text, service) => log(`${app}: ${text}`, service)).catch(
        (error: Error) => log(`${app}: reconcile failed: ${error.message}`),
      );
    }
  }

  /** True while a deploy, scale, restart or reconcile of `app` runs. */
  busy(app: string): boolean {
    return this.locks.has(app);
  }

  private async converge(app: string, log: Log): Promise<void> {
    const { docker, deployments, edge } = this.options;
    const desired = deployments.desired(app);
    const all = await this.replicasOf(app);
    const release =
      desired.release !== undefined
        ? this.options.runs.getReleaseByNumber(app, desired.release)
        : undefined;
    if (!release) {
      if (all.length > 0) {
        log(`removing ${all.length} container(s): ${app} has no live release`);
        await edge.removeApp(app).catch(() => {});
        this.retireInBackground(app, all);
      }
      return;
    }
    const plan = planOf(release, app);
    const mine = (r: Replica) =>
      plan.services.some((s) => s.name === r.service) && this.runsAsIn(app, r, release);
    const failing = await httpUnhealthy(plan, all.filter(mine));
    for (const replica of all) if (failing.has(replica.id)) replica.health = "unhealthy";
    const orphans = all.filter((r) => !mine(r));
    // Under the app's lock nothing is half-started, so a created container is debris too.
    const broken = all.filter((r) => mine(r) && !isServing(r));
    const keep: Replica[] = [];
    const extra: Replica[] = [];
    const retiredNow = new Set<string>();
    let images: Record<string, string> | undefined;
    for (const service of plan.services) {
      const want = replicasOf(service, desired.scale);
      const serving = all.filter((r) => mine(r) && r.service === service.name && isServing(r));
      keep.push(...serving.slice(0, want));
      extra.push(...serving.slice(want));
      const taken = new Set(serving.slice(0, want).map((r) => r.replica));
      const missing = want - Math.min(serving.length, want);
      const backoffKey = `${app}/${service.name}`;
      if (missing === 0) {
        this.startBackoff.delete(backoffKey);
        continue;
      }
      const backoff = this.startBackoff.get(backoffKey);
      if (backoff && Date.now() < backoff.until) continue;
      if (stopsFirst(service)) {
        // Never two on one volume: what is left of this service (a dead or
        // unhealthy replica, one of an older release after a crash, one still
        // stopping in the background) is gone before a new one starts.
        const stale = [...orphans, ...broken].filter((r) => r.service === service.name);
        await this.untilRetired(app, [service]);
        await Promise.all(stale.map((r) => retireReplica(docker, r)));
        for (const r of stale) retiredNow.add(r.id);
      }
      images ??= await this.pullImages(release, log);
      const image = images[service.name] as string;
      const files = this.filesOf(app, release.number)[service.name];
      for (let index = 1, started = 0; started < missing; index++) {
        if (taken.has(index)) continue;
        const replaced = broken.find((r) => r.service === service.name && r.replica === index);
        try {
          const fresh = await startReplica(docker, {
            instance: this.options.instance,
            app,
            service,
            release: release.number,
            replica: index,
            image,
            ...(files ? { files } : {}),
            log: (text) => log(text, service.name),
          });
          keep.push(fresh);
          const why = replaced
            ? `replaced replica ${index} (${replaced.state}${replaced.health ? `, ${replaced.health}` : ""})`
            : `started replica ${index}`;
          log(why, service.name);
          this.options.recordEvent?.(app, `${service.name}: ${why} of r${release.number}`);
          this.startBackoff.delete(backoffKey);
        } catch (error) {
          // A replica that cannot start now will most likely fail again at
          // once: wait longer each time instead of retrying every pass.
          const delayMs = Math.min(
            (backoff?.delayMs ?? START_BACKOFF_MS / 2) * 2,
            MAX_START_BACKOFF_MS,
          );
          this.startBackoff.set(backoffKey, { until: Date.now() + delayMs, delayMs });
          log(
            `replica ${index} did not start: ${(error as Error).message}; next try in ${Math.round(delayMs / 1000)} s`,
            service.name,
          );
          this.options.recordEvent?.(
            app,
            `${service.name}: replica ${index} of r${release.number} did not start: ${(error as Error).message}`,
          );
        }
        started++;
      }
    }
    if (plan.services.some((s) => s.routes.length > 0)) {
      await edge.setApp(app, toEdgeAppState(plan, keep));
    }
    const gone = [...orphans, ...broken, ...extra].filter((r) => !retiredNow.has(r.id));
    if (gone.length > 0) {
      log(`removing ${gone.length} container(s) the desired state does not have`);
      this.retireInBackground(app, gone);
    }
  }

  /** The app's replicas, without the old ones being stopped in the background: they are on their way out. */
  private async replicasOf(app: string): Promise<Replica[]> {
    const all = await listReplicas(this.options.docker, this.options.instance, app);
    return all.filter((r) => !this.retiring.has(r.id));
  }

  /**
   * Stops and removes replicas that left the edge already, each with its
   * grace period, without holding the app's lock: a push returns once its
   * release is live, not after the old replicas' `stop_grace_period` (a
   * server whose PID 1 ignores SIGTERM takes all of it). The release is
   * recorded live before this starts, so if the control plane dies
   * meanwhile, the reconciler finds these replicas outside the desired
   * state at its next pass and removes them: nothing is orphaned.
   */
  private retireInBackground(app: string, replicas: readonly Replica[]): void {
    for (const replica of replicas) {
      if (this.retiring.has(replica.id)) continue;
      const done = retireReplica(this.options.docker, replica)
        .catch((error: Error) => this.reportRetireFailure(app, replica, error))
        .finally(() => this.retiring.delete(replica.id));
      this.retiring.set(replica.id, { app, service: replica.service, done });
    }
  }

  /** A failed background retirement is an event; recording it must never take the server down. */
  private reportRetireFailure(app: string, replica: Replica, error: Error): void {
    try {
      this.options.recordEvent?.(
        app,
        `${replica.service}: could not remove old replica ${replica.name}: ${error.message}; the reconciler tries again`,
      );
    } catch {
      // The store is closed (the server is stopping); the reconciler finds the replica at the next start.
    }
  }

  /** Waits until no replica of these services of `app` is still being retired in the background. */
  private async untilRetired(app: string, services: readonly PlanService[]): Promise<void> {
    const names = new Set(services.map((s) => s.name));
    const pending = [...this.retiring.values()].filter(
      (r) => r.app === app && names.has(r.service),
    );
    await Promise.all(pending.map((r) => r.done));
  }

  /** Resolves once every replica being retired in the background is gone (for shutdown and tests). */
  async retired(): Promise<void> {
    await Promise.all([...this.retiring.values()].map((r) => r.done));
  }

  /** Every release image on the Docker host, by digest; per service the reference to run. */
  private async pullImages(
    release: ReleaseRecord,
    log: Log,
    signal?: AbortSignal,
  ): Promise<Record<string, string>> {
    const { docker, registryAddress, registryUrl, registryAuth } = this.options;
    const refs: Record<string, string> = {};
    await Promise.all(
      release.images.map(async (image) => {
        if (!image.image.startsWith(`${registryAddress}/`)) {
          // An `image:` service: recorded by its local image id.
          refs[image.service] = image.digest;
          return;
        }
        const repository = image.image.slice(0, image.image.lastIndexOf(":"));
        await ensureImage(docker, {
          repository,
          digest: image.digest,
          registryUrl,
          ...(registryAuth ? { auth: registryAuth } : {}),
          ...(signal ? { signal } : {}),
          onProgress: (text) => log(text, image.service),
        });
        refs[image.service] = `${repository}@${image.digest}`;
      }),
    );
    return refs;
  }

  /**
   * Whether a replica of `service` from release `number` runs what `release`
   * has for that service: the same release, or one with the same image
   * digest and the same settings (a service a later push did not change,
   * whose replicas were kept).
   */
  private sameService(
    app: string,
    number: number,
    release: ReleaseRecord,
    service: string,
  ): boolean {
    if (number === release.number) return true;
    // Releases never change once recorded, so each answer holds for good.
    const key = `${app}/${service}/${number}/${release.number}`;
    const known = this.sameServiceCache.get(key);
    if (known !== undefined) return known;
    const answer = this.compareService(app, number, release, service);
    this.sameServiceCache.set(key, answer);
    return answer;
  }

  private compareService(
    app: string,
    number: number,
    release: ReleaseRecord,
    service: string,
  ): boolean {
    const other = this.options.runs.getReleaseByNumber(app, number);
    if (!other) return false;
    const digest = (r: ReleaseRecord) => r.images.find((i) => i.service === service)?.digest;
    if (digest(other) === undefined || digest(other) !== digest(release)) return false;
    const settings = (r: ReleaseRecord) =>
      JSON.stringify(planOf(r, app).services.find((s) => s.name === service) ?? null);
    if (settings(other) !== settings(release)) return false;
    // The same file names can hold new bytes (a changed secret, an edited nginx.conf).
    const files = (r: ReleaseRecord) => this.filesOf(app, r.number)[service];
    const [a, b] = [files(other), files(release)];
    return a === undefined || b === undefined ? a === b : a.equals(b);
  }

  /** The files release `number` puts into its replicas, per service. */
  private filesOf(app: string, number: number): Record<string, Buffer> {
    return this.options.releaseFiles?.load(app, number) ?? {};
  }

  private release(app: string, number: number): ReleaseRecord {
    const release = this.options.runs.getReleaseByNumber(app, number);
    if (!release) {
      throw new NotFoundError(
        `${app} has no release r${number}`,
        `skiff releases ${app} lists them`,
      );
    }
    return release;
  }

  private liveNumber(app: string): number {
    const live = this.options.deployments.desired(app).release;
    if (live === undefined) {
      throw new NotFoundError(`${app} has no live release yet`, `git push to deploy one first`);
    }
    return live;
  }

  private livePlan(app: string): Plan {
    return planOf(this.release(app, this.liveNumber(app)), app);
  }

  private async exclusive<T>(app: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(app) ?? Promise.resolve();
    const mine = previous.catch(() => {}).then(work);
    const tail = mine.catch(() => {});
    this.locks.set(app, tail);
    try {
      return await mine;
    } finally {
      if (this.locks.get(app) === tail) this.locks.delete(app);
    }
  }
}

/** The deploy plan a release was made with. */
export function planOf(release: ReleaseRecord, app: string): Plan {
  return toPlan(release.spec as AppSpec, app);
}

function replicasOf(service: PlanService, scale: Record<string, number>): number {
  return scale[service.name] ?? service.replicas;
}

function asDeployFailure(error: unknown): Error {
  if (error instanceof ReplicaFailure) return new DeployFailure(error.message, error.logTail);
  if (error instanceof DeployFailure) return error;
  return error as Error;
}
