// Turns one validated service into a ServiceSpec: short forms expanded,
// units converted, env files read, defaults filled. Validation already
// proved every value parses, so the only problems found here are about the
// world outside the file: a missing env file, a variable with no value.

import { parseDotEnv } from "./dotenv.js";
import { parseExpose, parseVolumeShort, repoPath, type VolumeMount } from "./forms.js";
import type { SourceMap } from "./locate.js";
import type { ProblemList, SpecPath } from "./problem.js";
import { HEALTH_DEFAULTS, type ServiceInput } from "./schema.js";
import { splitCommand } from "./shell-words.js";
import type {
  DependencySpec,
  HealthcheckSpec,
  HttpHealthSpec,
  ServiceSpec,
  SkiffServiceSpec,
} from "./types.js";
import { parseBytes, parseDuration } from "./units.js";

/** Where parts of a service came from, so cross-field rules can point at them. */
export interface ServiceOrigins {
  /** Path of the service's key, e.g. `services.web`. */
  self: SpecPath;
  /** Path of each depends_on entry, by service name. */
  dependsOn: Map<string, SpecPath>;
  /** Path of each volume mount, in `ServiceSpec.volumes` order. */
  volumes: SpecPath[];
  /** Path of each domain, in `SkiffServiceSpec.domains` order. */
  domains: SpecPath[];
}

/** What normalising needs besides the service: the env, file access, and where to report. */
export interface NormaliseContext {
  fileName: string;
  env: Readonly<Record<string, string>>;
  readFile?: (relativePath: string) => string | undefined;
  map: SourceMap;
  problems: ProblemList;
}

type KeyValues = NonNullable<ServiceInput["environment"]>;

/** Builds the ServiceSpec of a validated service; reports env files that cannot be read. */
export function normaliseService(
  name: string,
  input: ServiceInput,
  ctx: NormaliseContext,
): { spec: ServiceSpec; origins: ServiceOrigins } {
  const self = ["services", name];
  const at = (...rest: (string | number)[]) => [...self, ...rest];
  const volumes: VolumeMount[] = [];
  const volumePaths: SpecPath[] = [];
  (input.volumes ?? []).forEach((v, i) => {
    const mount =
      typeof v === "string"
        ? (parseVolumeShort(v) as { ok: true; value: VolumeMount }).value
        : { source: v.source ?? "", target: v.target, readOnly: v.read_only ?? false };
    volumes.push(mount);
    volumePaths.push(at("volumes", i));
  });

  const dependsOn: DependencySpec[] = [];
  const dependsOnPaths = new Map<string, SpecPath>();
  const deps = input.depends_on;
  if (Array.isArray(deps)) {
    deps.forEach((service, i) => {
      dependsOn.push({ service, condition: "service_started" });
      dependsOnPaths.set(service, at("depends_on", i));
    });
  } else if (deps) {
    for (const [service, entry] of Object.entries(deps)) {
      dependsOn.push({ service, condition: entry.condition });
      dependsOnPaths.set(service, at("depends_on", service));
    }
  }

  const environment = {
    ...readEnvFiles(input.env_file, at("env_file"), ctx),
    ...keyValues(input.environment, at("environment"), ctx, "environment"),
  };

  const stateful = volumes.length > 0;
  const deploy = input.deploy;
  const limits = deploy?.resources?.limits;
  const spec: ServiceSpec = {
    name,
    ...(input.build !== undefined && { build: buildSpec(input.build, ctx) }),
    ...(input.image !== undefined && { image: input.image }),
    ...(input.command != null && { command: argv(input.command) }),
    ...(input.entrypoint != null && { entrypoint: argv(input.entrypoint) }),
    environment,
    expose: (input.expose ?? []).flatMap((e) => expose(e)),
    ...(input.healthcheck !== undefined && { healthcheck: healthcheck(input.healthcheck) }),
    dependsOn,
    volumes,
    // With autoscale and no explicit count, start at its minimum.
    replicas: deploy?.replicas ?? input["x-skiff"]?.autoscale?.min ?? 1,
    limits: {
      ...(limits?.cpus !== undefined && { cpus: limits.cpus }),
      ...(limits?.memory !== undefined && { memoryBytes: parseBytes(limits.memory) as number }),
    },
    update: {
      order: deploy?.update_config?.order ?? (stateful ? "stop-first" : "start-first"),
      failureAction: deploy?.update_config?.failure_action ?? "rollback",
    },
    ...(input.stop_grace_period !== undefined && {
      stopGracePeriodMs: ms(input.stop_grace_period),
    }),
    ...(input.user !== undefined && { user: input.user }),
    ...(input.working_dir !== undefined && { workingDir: input.working_dir }),
    labels: labels(input.labels),
    skiff: skiff(input["x-skiff"]),
  };
  const domainPaths = spec.skiff.domains.map((_, i) => at("x-skiff", "domains", i));
  return {
    spec,
    origins: { self, dependsOn: dependsOnPaths, volumes: volumePaths, domains: domainPaths },
  };
}

function ms(duration: string): number {
  return parseDuration(duration) as number;
}

function argv(command: string | string[]): string[] {
  if (Array.isArray(command)) return command;
  const split = splitCommand(command);
  return split.ok ? split.argv : [];
}

function expose(entry: string | number): string[] {
  const parsed = parseExpose(entry);
  return parsed.ok ? parsed.value : [];
}

function buildSpec(build: NonNullable<ServiceInput["build"]>, ctx: NormaliseContext) {
  const long = typeof build === "string" ? { context: build } : build;
  const context = repoPath(long.context);
  const args = "args" in long ? long.args : undefined;
  return {
    context: context.ok ? context.value : long.context,
    dockerfile: ("dockerfile" in long && long.dockerfile) || "Dockerfile",
    ...("target" in long && long.target !== undefined && { target: long.target }),
    // Compose passes a build arg without a value from the environment, or not at all when unset
    // (the Dockerfile's ARG default then applies), so no warning here.
    args: keyValues(args, [], ctx, "args"),
  };
}

function healthcheck(h: NonNullable<ServiceInput["healthcheck"]>): HealthcheckSpec {
  const test = typeof h.test === "string" ? ["CMD-SHELL", h.test] : h.test;
  if (h.disable === true || test?.[0] === "NONE") return { disabled: true };
  return {
    disabled: false,
    ...(test !== undefined && { test }),
    ...(h.interval !== undefined && { intervalMs: ms(h.interval) }),
    ...(h.timeout !== undefined && { timeoutMs: ms(h.timeout) }),
    ...(h.retries !== undefined && { retries: h.retries }),
    ...(h.start_period !== undefined && { startPeriodMs: ms(h.start_period) }),
  };
}

function labels(input: KeyValues | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of entries(input)) out[key] = value ?? "";
  return out;
}

function skiff(x: ServiceInput["x-skiff"]): SkiffServiceSpec {
  return {
    ...(x?.port !== undefined && { port: x.port }),
    domains: (x?.domains ?? []).map((d) => d.toLowerCase()),
    ...(x?.health && httpHealth(x.health)),
    ...(x?.health?.stable_for !== undefined && { stableForMs: ms(x.health.stable_for) }),
    ...(x?.autoscale && {
      autoscale: { min: x.autoscale.min, max: x.autoscale.max, cpuPercent: x.autoscale.cpu },
    }),
    ...(x?.budget && {
      budget: {
        ...(x.budget.image !== undefined && { imageBytes: parseBytes(x.budget.image) as number }),
      },
    }),
  };
}

type HealthInput = NonNullable<NonNullable<ServiceInput["x-skiff"]>["health"]>;

/**
 * The HTTP check, unless x-skiff.health holds only stable_for: then it is
 * about a service without a check, and the plan decides the rest. An empty
 * `health: {}` still asks for the HTTP check with its defaults.
 */
function httpHealth(h: HealthInput): { health?: HttpHealthSpec } {
  const { stable_for, ...http } = h;
  if (stable_for !== undefined && Object.values(http).every((v) => v === undefined)) return {};
  return {
    health: {
      path: h.path ?? HEALTH_DEFAULTS.path,
      timeoutMs: ms(h.timeout ?? HEALTH_DEFAULTS.timeout),
      intervalMs: ms(h.interval ?? HEALTH_DEFAULTS.interval),
      retries: h.retries ?? HEALTH_DEFAULTS.retries,
      ...(h.host !== undefined && { host: h.host.toLowerCase() }),
    },
  };
}

/** Entries of a list-or-mapping as [key, value | undefined (no value given), index-or-key]. */
function entries(input: KeyValues | undefined): [string, string | undefined, string | number][] {
  if (input === undefined) return [];
  if (Array.isArray(input)) {
    return input.map((item, i) => {
      const eq = item.indexOf("=");
      return eq < 0 ? [item, undefined, i] : [item.slice(0, eq), item.slice(eq + 1), i];
    });
  }
  return Object.entries(input).map(([k, v]) => [k, v === null ? undefined : String(v), k]);
}

/**
 * Resolves `environment:` or build `args:`. A key without a value takes it
 * from the env (the app's config merged over `.env`), as Compose takes it
 * from the shell. An unset one is left out; for `environment:` that
 * deserves a warning, since the container will not see the variable at all.
 */
function keyValues(
  input: KeyValues | undefined,
  path: SpecPath,
  ctx: NormaliseContext,
  kind: "environment" | "args",
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value, where] of entries(input)) {
    if (value !== undefined) {
      out[key] = value;
    } else if (Object.hasOwn(ctx.env, key)) {
      out[key] = ctx.env[key] as string;
    } else if (kind === "environment") {
      const p = [...path, where];
      ctx.problems.add(
        "warning",
        ctx.map.at(p),
        p,
        `variable ${key} is not set in the app's config or .env; the container will not have it`,
      );
    }
  }
  return out;
}

function readEnvFiles(
  input: ServiceInput["env_file"],
  path: SpecPath,
  ctx: NormaliseContext,
): Record<string, string> {
  if (input === undefined) return {};
  const list =
    typeof input === "string"
      ? [{ entry: input, at: path }]
      : input.map((entry, i) => ({ entry, at: [...path, i] }));
  const out: Record<string, string> = {};
  for (const { entry, at } of list) {
    const file = typeof entry === "string" ? entry : entry.path;
    const required = typeof entry === "string" ? true : entry.required;
    const where = typeof entry === "string" ? at : [...at, "path"];
    const relative = repoPath(file);
    if (!relative.ok) continue;
    const text = ctx.readFile?.(relative.value);
    if (text === undefined) {
      if (required) {
        ctx.problems.add(
          "error",
          ctx.map.at(where),
          where,
          `env file ${JSON.stringify(relative.value)} not found; the path is relative to the directory of ${ctx.fileName}. Add the file to the repository, or use { path: ${file}, required: false }`,
        );
      }
      continue;
    }
    Object.assign(out, parseDotEnv(text));
  }
  return out;
}
