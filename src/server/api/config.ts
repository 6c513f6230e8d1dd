import type { FastifyInstance } from "fastify";
import {
  type ConfigChange,
  type ConfigChangeOutcome,
  changeConfig,
} from "../../apps/config-changes.js";
import { type ConfigSnapshot, isSecret } from "../../config-vars.js";
import { ForbiddenError, NotFoundError, ValidationError } from "../../errors.js";
import type { Pipeline } from "../../pipeline/pipeline.js";
import { liveReleaseTreeSource } from "../../pipeline/triggers/release-source.js";
import type { ConfigStore } from "../../state/app-config.js";
import type { DeploymentStore } from "../../state/deployments.js";
import type { RunStore } from "../../state/runs.js";
import type { Store } from "../../state/store.js";
import type { UploadSourceStore } from "../../state/upload-sources.js";
import { actorOf } from "../actor.js";

export interface ConfigRoutesDependencies {
  store: Store;
  runs: RunStore;
  config: ConfigStore;
  pipeline: Pipeline;
  uploads: UploadSourceStore;
  reposRoot: string;
  /** Which release is live; absent when no deploy engine is configured (changes are stored only). */
  deployments?: DeploymentStore;
}

/**
 * `GET /api/v1/apps/APP/config`: the app-wide vars and each service's own.
 * A secret's value is null unless asked with `?reveal=true`; `secret` names
 * the secrets (`KEY`, or `SERVICE/KEY` for a service's own).
 */
export interface ConfigAnswer {
  app: Record<string, string | null>;
  services: Record<string, Record<string, string | null>>;
  secret: string[];
}

/** `GET /api/v1/apps/APP/config/KEY`: a secret's value only with `?reveal=true`. */
export interface ConfigValueAnswer {
  key: string;
  value: string;
  service?: string;
  secret: boolean;
}

/** `PATCH /api/v1/apps/APP/config` answers 202 with the run when one started, else 200. */
export type ConfigChangeAnswer = ConfigChangeOutcome;

/** The config routes: read, set and unset an app's config vars (apps/config-changes.ts). */
export function registerConfigRoutes(app: FastifyInstance, deps: ConfigRoutesDependencies): void {
  const requireApp = (name: string) => {
    if (!deps.store.getApp(name)) {
      throw new NotFoundError(`no app named "${name}"`, "skiff apps lists the apps");
    }
  };

  app.get<{ Params: { name: string }; Querystring: { reveal?: string } }>(
    "/api/v1/apps/:name/config",
    async (request): Promise<ConfigAnswer> => {
      requireApp(request.params.name);
      return configAnswer(deps.config.snapshot(request.params.name), reveal(request.query));
    },
  );

  app.get<{
    Params: { name: string; key: string };
    Querystring: { service?: string; reveal?: string };
  }>("/api/v1/apps/:name/config/:key", async (request): Promise<ConfigValueAnswer> => {
    const { name, key } = request.params;
    requireApp(name);
    const service = request.query.service;
    const snapshot = deps.config.snapshot(name);
    const vars = service ? (snapshot.services[service] ?? {}) : snapshot.app;
    const where = `${service ? `service ${service} of ` : ""}${name}`;
    if (!Object.hasOwn(vars, key)) {
      throw new NotFoundError(
        `${key} is not set for ${where}`,
        `skiff config ${name} lists what is set`,
      );
    }
    const secret = isSecret(snapshot, key, service ?? "");
    if (secret && !reveal(request.query)) {
      throw new ForbiddenError(
        `${key} of ${where} is a secret`,
        `ask for it with --reveal (?reveal=true): skiff config:get ${name} ${key} --reveal`,
      );
    }
    return { key, value: vars[key] as string, ...(service ? { service } : {}), secret };
  });

  app.patch<{ Params: { name: string }; Body: unknown }>(
    "/api/v1/apps/:name/config",
    async (request, reply): Promise<ConfigChangeAnswer> => {
      const name = request.params.name;
      const liveRelease = () => {
        const live = deps.deployments?.desired(name).release;
        return live === undefined ? undefined : deps.runs.getReleaseByNumber(name, live);
      };
      const outcome = changeConfig(
        {
          config: deps.config,
          appExists: (app) => deps.store.getApp(app) !== undefined,
          liveRelease,
          recordEvent: (app, message) => deps.store.recordEvent(`app:${app}`, "config", message),
          submit: (app, trigger, source) => deps.pipeline.submit(app, trigger, source),
          liveTree: (change) =>
            liveReleaseTreeSource({
              reposRoot: deps.reposRoot,
              uploads: deps.uploads,
              app: name,
              liveRelease,
              change,
            }),
        },
        name,
        { ...configChangeBody(request.body), actor: actorOf(request) },
      );
      reply.code(outcome.run !== undefined ? 202 : 200);
      return outcome;
    },
  );
}

/** `?reveal=true` (or 1): show secrets' values. Every token is an admin's today. */
function reveal(query: { reveal?: string }): boolean {
  if (query.reveal === undefined || query.reveal === "false" || query.reveal === "0") return false;
  if (query.reveal === "true" || query.reveal === "1") return true;
  throw new ValidationError(
    `reveal must be true or false, not ${JSON.stringify(query.reveal.slice(0, 20))}`,
  );
}

/** The snapshot as answered: each secret's value null unless revealed. */
function configAnswer(snapshot: ConfigSnapshot, revealed: boolean): ConfigAnswer {
  const shown = (vars: Record<string, string>, service: string) =>
    Object.fromEntries(
      Object.entries(vars).map(([key, value]) => [
        key,
        !revealed && isSecret(snapshot, key, service) ? null : value,
      ]),
    );
  return {
    app: shown(snapshot.app, ""),
    services: Object.fromEntries(
      Object.entries(snapshot.services).map(([service, vars]) => [service, shown(vars, service)]),
    ),
    secret: snapshot.secret ?? [],
  };
}

/** The PATCH body: `{set: {K: V}, unset: [K], service?, secret?, restart?}`. */
function configChangeBody(body: unknown): ConfigChange {
  const hint =
    'send {"set": {"KEY": "value"}} or {"unset": ["KEY"]}, optionally with "service" and "restart": false';
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ValidationError("the config change must be a JSON object", hint);
  }
  const { set, unset, service, secret, restart, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new ValidationError(`unknown field ${unknown[0]} in the config change`, hint);
  }
  if (set !== undefined && (typeof set !== "object" || set === null || Array.isArray(set))) {
    throw new ValidationError('"set" must be an object of KEY: "value"', hint);
  }
  for (const [key, value] of Object.entries((set ?? {}) as Record<string, unknown>)) {
    if (typeof value !== "string") {
      throw new ValidationError(`the value of ${key} must be a string`, hint);
    }
  }
  if (unset !== undefined && (!Array.isArray(unset) || unset.some((k) => typeof k !== "string"))) {
    throw new ValidationError('"unset" must be a list of keys', hint);
  }
  if (service !== undefined && typeof service !== "string") {
    throw new ValidationError('"service" must be a service name', hint);
  }
  if (secret !== undefined && typeof secret !== "boolean") {
    throw new ValidationError('"secret" must be true or false', hint);
  }
  if (restart !== undefined && typeof restart !== "boolean") {
    throw new ValidationError('"restart" must be true or false', hint);
  }
  return {
    ...(set ? { set: set as Record<string, string> } : {}),
    ...(unset ? { unset: unset as string[] } : {}),
    ...(service ? { service } : {}),
    ...(secret ? { secret } : {}),
    restart: restart ?? true,
  };
}
