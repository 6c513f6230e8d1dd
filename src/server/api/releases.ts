import type { FastifyInstance } from "fastify";
import {
  ConflictError,
  DependencyError,
  NotFoundError,
  type SkiffError,
  ValidationError,
} from "../../errors.js";
import type { Pipeline } from "../../pipeline/pipeline.js";
import type { DeploymentStore } from "../../state/deployments.js";
import type { ReleaseRecord, RunStore } from "../../state/runs.js";
import type { Store } from "../../state/store.js";
import { actorOf } from "../actor.js";

/** How far back `skiff rollback APP` looks for the release that served before the live one. */
const ROLLBACK_WINDOW = 200;

export interface ReleaseRoutesDependencies {
  store: Store;
  runs: RunStore;
  pipeline: Pipeline;
  /** The desired state (which release is live); absent when no deploy engine is configured. */
  deployments?: DeploymentStore;
}

/** A release as the API shows it: its spec stays on the server (it may hold environment values). */
export interface ReleaseView {
  number: number;
  commit?: string;
  trigger: string;
  status: string;
  createdAt: string;
  /** Set on a rollback: the release whose images it runs again. */
  rollbackOf?: number;
  images: { service: string; image: string; digest: string }[];
  /** Who started the run that made it (a token's name, "admin", "webhook:github"). */
  actor?: string;
}

/** `GET /api/v1/apps/APP/releases`. */
export interface ReleasesAnswer {
  live?: number;
  releases: ReleaseView[];
}

/** `POST /api/v1/apps/APP/rollback` answers 202 with the run to follow. */
export interface RollbackAnswer {
  run: number;
  rollbackTo: number;
}

/** Just what the rollback choice looks at, so tests can pass small literals. */
export type RollbackCandidate = Pick<ReleaseRecord, "number" | "status">;

export interface RollbackRequest<R extends RollbackCandidate> {
  app: string;
  /** Releases of the app, newest first (any that `requested` names must be among them). */
  releases: R[];
  /** The live release's number, if any. */
  live: number | undefined;
  /** The release the user named; undefined picks the one that served before the live one. */
  requested: number | undefined;
  /** Allows a release that never served (failed, or published and never deployed). */
  force: boolean;
}

/** The release a rollback deploys again, or why there is none. */
export type RollbackChoice<R> = { ok: true; target: R } | { ok: false; error: SkiffError };

/**
 * Picks a rollback's target. By default it is the newest release before the
 * live one that was itself live once (status superseded); a named release
 * must exist, must not be the live one, and must have served unless forced.
 */
export function chooseRollbackTarget<R extends RollbackCandidate>(
  request: RollbackRequest<R>,
): RollbackChoice<R> {
  const { app, releases, live, requested, force } = request;
  const refuse = (error: SkiffError): RollbackChoice<R> => ({ ok: false, error });
  if (live === undefined) {
    return refuse(
      new ConflictError(
        `${app} has no live release to roll back from`,
        "deploy one first (git push, or skiff deploy)",
      ),
    );
  }
  if (requested === undefined) {
    const previous = releases.find((r) => r.number < live && r.status === "superseded");
    if (!previous) {
      return refuse(
        new ConflictError(
          `no release of ${app} before the live r${live} has served, so there is nothing to roll back to`,
          `skiff releases ${app} lists them; name one with skiff rollback ${app} N (--force for one that never served)`,
        ),
      );
    }
    return { ok: true, target: previous };
  }
  const target = releases.find((r) => r.number === requested);
  if (!target) {
    return refuse(
      new ValidationError(
        `${app} has no release r${requested}`,
        `skiff releases ${app} lists them`,
      ),
    );
  }
  if (target.number === live) {
    return refuse(
      new ConflictError(
        `r${requested} is already the live release of ${app}`,
        `name an earlier release (skiff releases ${app}), or restart it with skiff restart ${app}`,
      ),
    );
  }
  if (!force && target.status !== "superseded") {
    const why =
      target.status === "failed"
        ? "failed to deploy and never served"
        : `was never live (it is ${target.status})`;
    return refuse(
      new ConflictError(
        `r${requested} of ${app} ${why}`,
        `deploy it anyway with skiff rollback ${app} ${requested} --force`,
      ),
    );
  }
  return { ok: true, target };
}

/** The API's view of a release. */
export function toReleaseView(release: ReleaseRecord): ReleaseView {
  return {
    number: release.number,
    ...(release.commit ? { commit: release.commit } : {}),
    trigger: release.trigger,
    status: release.status,
    createdAt: release.createdAt,
    ...(release.rollbackOf !== undefined ? { rollbackOf: release.rollbackOf } : {}),
    images: release.images.map(({ service, image, digest }) => ({ service, image, digest })),
    ...(release.actor ? { actor: release.actor } : {}),
  };
}

function requireApp(deps: ReleaseRoutesDependencies, name: string): void {
  if (!deps.store.getApp(name)) {
    throw new NotFoundError(`no app named "${name}"`, "list the apps with `skiff apps`");
  }
}

/** Reads `{ release?: number, force?: boolean }`, naming what is wrong. */
function rollbackBody(body: unknown): { requested: number | undefined; force: boolean } {
  const value = (body ?? {}) as Record<string, unknown>;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new ValidationError(
      "the rollback body must be a JSON object",
      'e.g. {"release": 3} or {} for the release before the live one',
    );
  }
  const { release, force } = value;
  if (release !== undefined && (!Number.isInteger(release) || (release as number) < 1)) {
    throw new ValidationError(
      `release ${JSON.stringify(release)} is not a release number`,
      'send a whole number such as {"release": 3}, or leave it out for the release before the live one',
    );
  }
  if (force !== undefined && typeof force !== "boolean") {
    throw new ValidationError(
      `force ${JSON.stringify(force)} is not true or false`,
      'e.g. {"release": 3, "force": true}',
    );
  }
  return { requested: release as number | undefined, force: force === true };
}

/** An app's releases, and rolling back to one of them through the pipeline. */
export function registerReleaseRoutes(app: FastifyInstance, deps: ReleaseRoutesDependencies): void {
  app.get<{ Params: { name: string }; Querystring: { limit?: string } }>(
    "/api/v1/apps/:name/releases",
    async (request): Promise<ReleasesAnswer> => {
      const name = request.params.name;
      requireApp(deps, name);
      const limit = Math.min(200, Math.max(1, Number(request.query.limit ?? 50) || 50));
      const live = deps.deployments?.desired(name).release;
      return {
        ...(live !== undefined ? { live } : {}),
        releases: deps.runs.listReleases(name, limit).map(toReleaseView),
      };
    },
  );

  app.post<{ Params: { name: string }; Body: unknown }>(
    "/api/v1/apps/:name/rollback",
    async (request, reply): Promise<RollbackAnswer> => {
      const name = request.params.name;
      requireApp(deps, name);
      const { requested, force } = rollbackBody(request.body);
      if (!deps.deployments) {
        throw new DependencyError(
          "this server has no deploy engine, so it cannot roll back",
          "start the server with Docker available (skiff status shows what is missing)",
        );
      }
      const releases = deps.runs.listReleases(name, ROLLBACK_WINDOW);
      if (requested !== undefined && !releases.some((r) => r.number === requested)) {
        const older = deps.runs.getReleaseByNumber(name, requested);
        if (older) releases.push(older);
      }
      const choice = chooseRollbackTarget({
        app: name,
        releases,
        live: deps.deployments.desired(name).release,
        requested,
        force,
      });
      if (!choice.ok) throw choice.error;
      const target = choice.target;
      // The pipeline records a new release with the target's images and
      // deploys it through the same health-gated rollout as a push.
      const submitted = deps.pipeline.submit(
        name,
        {
          kind: "rollback",
          ...(target.commit ? { commit: target.commit } : {}),
          actor: actorOf(request),
        },
        { rollbackTo: target },
      );
      reply.code(202);
      return { run: submitted.run.number, rollbackTo: target.number };
    },
  );
}
