// Turns one validated service into a ServiceSpec: short forms expanded,
// units converted, env files read, mounts decided, defaults filled.
// Validation already proved every value parses, so the problems found here
// are about the world outside the file (a missing env file or bound path, a
// variable with no value) and about what Skiff does instead of what a key
// asks (a bind that becomes a named volume, a port that is not routed).

import { readDotEnv } from "./dotenv.js";
import { parseExpose, repoPath, type VolumeMount } from "./forms.js";
import type { SourceMap } from "./locate.js";
import {
  classifyMount,
  fileMode,
  fromLongMount,
  parseVolumeShort,
  treeProblem,
  type WrittenMount,
} from "./mounts.js";
import { notRoutable, type PublishedPort, parsePortShort } from "./ports.js";
import type { ProblemList, SpecPath } from "./problem.js";
import { HEALTH_DEFAULTS, type ServiceInput, type TopInput } from "./schema.js";
import { splitCommand } from "./shell-words.js";
import type { SpecTree } from "./tree.js";
import type {
  DependencySpec,
  HealthcheckSpec,
  HttpHealthSpec,
  PlanFile,
  RestartSpec,
  ServiceSpec,
  SkiffServiceSpec,
  Ulimit,
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
  /** The service this one extends, if any. */
  extends?: string;
  /** Its extends could not be applied; that error is the one to show. */
  extendsFailed?: boolean;
}

/** What normalising needs besides the service: the env, the tree, the file's other parts, and where to report. */
export interface NormaliseContext {
  fileName: string;
  env: Readonly<Record<string, string>>;
  /** The pushed tree: env files, bound paths and secret files are looked up in it. */
  tree: SpecTree;
  map: SourceMap;
  problems: ProblemList;
  /** The validated top level (volumes, networks, secrets, configs); undefined when it was invalid. */
  top?: TopInput;
  /** The named volume a repository directory becomes (shared by every service that binds it). */
  volumeNameFor(repoPath: string): string;
  /** Top-level secret or config paths already checked, so each is reported once. */
  checked: Set<string>;
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
  const files: PlanFile[] = [];
  const ephemeralVolumes: string[] = [];
  const tmpfs: Record<string, string> = {};
  const buildContext = input.build === undefined ? undefined : buildSpec(input.build, ctx).context;
  (input.volumes ?? []).forEach((v, i) => {
    const written = (typeof v === "string" ? parseVolumeShort(v) : fromLongMount(v)) as {
      ok: true;
      value: WrittenMount;
    };
    const { outcome, notes } = classifyMount(written.value, {
      service: name,
      tree: ctx.tree,
      ...(buildContext !== undefined && { buildContext }),
      volumeNameFor: ctx.volumeNameFor,
    });
    const p = at("volumes", i);
    for (const note of notes) ctx.problems.add(note.severity, ctx.map.at(p), p, note.message);
    if (outcome.type === "volume") {
      volumes.push(outcome.mount);
      volumePaths.push(p);
    } else if (outcome.type === "file") files.push(outcome.file);
    else if (outcome.type === "ephemeral") ephemeralVolumes.push(outcome.target);
    else if (outcome.type === "tmpfs") tmpfs[outcome.target] = outcome.options;
  });
  const tmpfsKey = input.tmpfs === undefined ? [] : [input.tmpfs].flat();
  for (const entry of tmpfsKey) {
    const colon = entry.indexOf(":");
    if (colon < 0) tmpfs[entry] = "";
    else tmpfs[entry.slice(0, colon)] = entry.slice(colon + 1);
  }
  files.push(...referencedFiles(name, input, ctx));

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
  const memory = limits?.memory ?? input.mem_limit;
  const cpus = limits?.cpus ?? input.cpus;
  const pids = pidsLimit(limits?.pids ?? input.pids_limit, name, ctx);
  const ports = publishedPorts(input.ports);
  const routed = routedPort(name, input, ports, ctx);
  const restart = restartSpec(input);
  const aliases = networkAliases(name, input, ctx);
  const security = securityOptions(name, input, ctx);
  const ulimits = ulimitList(name, input, ctx);
  lateKeys(name, input, ctx);
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
    ...(ports.length > 0 && { ports: ports.map(({ port }) => port) }),
    ...(files.length > 0 && { files }),
    ...(ephemeralVolumes.length > 0 && { ephemeralVolumes }),
    ...(Object.keys(tmpfs).length > 0 && { tmpfs }),
    ...(restart && { restart }),
    ...(input.init !== undefined && { init: input.init }),
    ...(input.stop_signal !== undefined && { stopSignal: input.stop_signal }),
    ...(input.read_only !== undefined && { readOnly: input.read_only }),
    ...(input.cap_drop !== undefined && { capDrop: input.cap_drop.map(capability) }),
    ...(security && { noNewPrivileges: true }),
    ...(input.shm_size !== undefined && { shmSizeBytes: parseBytes(input.shm_size) as number }),
    ...(ulimits.length > 0 && { ulimits }),
    ...(input.hostname !== undefined && { hostname: input.hostname }),
    ...(aliases.length > 0 && { aliases }),
    // With autoscale and no explicit count, start at its minimum.
    replicas: deploy?.replicas ?? input["x-skiff"]?.autoscale?.min ?? 1,
    limits: {
      ...(cpus !== undefined && { cpus }),
      ...(memory !== undefined && { memoryBytes: parseBytes(memory) as number }),
      ...(pids !== undefined && { pids }),
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
    skiff: { ...skiff(input["x-skiff"]), ...(routed !== undefined && { port: routed }) },
  };
  const domainPaths = spec.skiff.domains.map((_, i) => at("x-skiff", "domains", i));
  return {
    spec,
    origins: { self, dependsOn: dependsOnPaths, volumes: volumePaths, domains: domainPaths },
  };
}

/** Each `ports:` entry's container ports, with the entry's index. */
function publishedPorts(input: ServiceInput["ports"]): { port: PublishedPort; entry: number }[] {
  const out: { port: PublishedPort; entry: number }[] = [];
  (input ?? []).forEach((p, entry) => {
    if (typeof p === "string" || typeof p === "number") {
      const parsed = parsePortShort(p);
      if (parsed.ok) for (const port of parsed.value) out.push({ port, entry });
    } else {
      out.push({
        port: {
          target: p.target,
          protocol: p.protocol ?? "tcp",
          ...(p.published !== undefined && { published: String(p.published) }),
        },
        entry,
      });
    }
  });
  return out;
}

/**
 * The container port the edge routes: x-skiff.port, else the first port of
 * `ports:` that speaks HTTP. Every other published port gets one warning per
 * entry saying how other services reach it, since nothing is published on
 * the host.
 */
function routedPort(
  name: string,
  input: ServiceInput,
  ports: { port: PublishedPort; entry: number }[],
  ctx: NormaliseContext,
): number | undefined {
  const explicit = input["x-skiff"]?.port;
  const chosen = explicit ?? ports.find(({ port }) => notRoutable(port) === undefined)?.port.target;
  // One warning per entry, naming every port of it that is not routed (a range has many).
  const unrouted = new Map<number, PublishedPort[]>();
  for (const { port, entry } of ports) {
    if (port.target === chosen && port.protocol === "tcp") continue;
    unrouted.set(entry, [...(unrouted.get(entry) ?? []), port]);
  }
  for (const [entry, list] of unrouted) {
    const first = list[0] as PublishedPort;
    const shown =
      list.length > 1 ? `ports ${list.map((p) => p.target).join(", ")}` : `port ${first.target}`;
    const reason =
      notRoutable(first) ??
      `${shown} ${list.length > 1 ? "are" : "is"} not routed, as the edge routes one port per service${chosen === undefined ? "" : ` (here ${chosen})`}`;
    const advice = notRoutable(first) === undefined ? "; set x-skiff.port to route another" : "";
    const p = ["services", name, "ports", entry];
    ctx.problems.add(
      "warning",
      ctx.map.at(p),
      p,
      `${reason}; other services reach it as ${name}:${first.target} on the app network, and nothing is published on the host${advice}`,
    );
  }
  return explicit === undefined ? chosen : undefined;
}

function restartSpec(input: ServiceInput): RestartSpec | undefined {
  const r = input.restart;
  if (r !== undefined) {
    if (r.startsWith("on-failure:")) {
      return { policy: "on-failure", maxRetries: Number(r.slice("on-failure:".length)) };
    }
    return { policy: r as RestartSpec["policy"] };
  }
  const policy = input.deploy?.restart_policy;
  if (policy?.condition === undefined) return undefined;
  if (policy.condition === "none") return { policy: "no" };
  if (policy.condition === "any") return { policy: "unless-stopped" };
  return {
    policy: "on-failure",
    ...(policy.max_attempts !== undefined && { maxRetries: policy.max_attempts }),
  };
}

/** Docker accepts capability names with or without CAP_, in any case; written as Docker lists them. */
function capability(name: string): string {
  return name.toUpperCase().replace(/^CAP_/, "");
}

// pids_limit 0 and -1 mean "no limit" in Compose; a replica always has one (DESIGN.md, Trust).
function pidsLimit(value: number | undefined, name: string, ctx: NormaliseContext) {
  if (value === undefined || value > 0) return value;
  const p = ["services", name, "pids_limit"];
  ctx.problems.add(
    "warning",
    ctx.map.at(p),
    p,
    `no pids limit is not granted: every replica has one, so one cannot exhaust the host's processes; Skiff's default applies. Set a number to allow more`,
  );
  return undefined;
}

// Only no-new-privileges is honoured. The others either weaken the
// container's isolation (seccomp, AppArmor or SELinux off) or name a
// profile file of the host, which a release does not have.
const WEAKENING =
  /^(?:seccomp[:=]unconfined|apparmor[:=]unconfined|label[:=]disable|systempaths[:=]unconfined)$/;

function securityOptions(name: string, input: ServiceInput, ctx: NormaliseContext): boolean {
  let noNewPrivileges = false;
  (input.security_opt ?? []).forEach((opt, i) => {
    const p = ["services", name, "security_opt", i];
    const m = /^no-new-privileges(?:[:=](true|false))?$/.exec(opt);
    if (m) {
      noNewPrivileges = m[1] !== "false";
      return;
    }
    ctx.problems.add(
      "warning",
      ctx.map.at(p),
      p,
      WEAKENING.test(opt)
        ? `${JSON.stringify(opt)} is never granted: it turns off part of the container's isolation (DESIGN.md, Trust); the replica runs with Docker's default profile`
        : `${JSON.stringify(opt)} is not applied: only no-new-privileges:true is; the replica runs with Docker's default seccomp and AppArmor profiles`,
    );
  });
  return noNewPrivileges;
}

function ulimitList(name: string, input: ServiceInput, ctx: NormaliseContext): Ulimit[] {
  const out: Ulimit[] = [];
  for (const [limit, value] of Object.entries(input.ulimits ?? {})) {
    const soft = typeof value === "number" ? value : value.soft;
    const hard = typeof value === "number" ? value : value.hard;
    if (
      (soft < 0 ? Number.POSITIVE_INFINITY : soft) > (hard < 0 ? Number.POSITIVE_INFINITY : hard)
    ) {
      const p = ["services", name, "ulimits", limit, "soft"];
      ctx.problems.add(
        "error",
        ctx.map.at(p),
        p,
        `must not be greater than hard (${hard}) (got ${soft})`,
      );
      continue;
    }
    out.push({ name: limit, soft, hard });
  }
  return out;
}

/** The aliases of every network the service joins; those networks must be declared. */
function networkAliases(name: string, input: ServiceInput, ctx: NormaliseContext): string[] {
  const networks = input.networks;
  if (networks === undefined) return [];
  const declared = ctx.top ? Object.keys(ctx.top.networks ?? {}) : undefined;
  const entries: [string, SpecPath][] = Array.isArray(networks)
    ? networks.map((n, i) => [n, ["services", name, "networks", i]])
    : Object.keys(networks).map((n) => [n, ["services", name, "networks", n]]);
  for (const [network, p] of entries) {
    if (declared && network !== "default" && !declared.includes(network)) {
      ctx.problems.add(
        Array.isArray(networks) ? "error" : "error",
        Array.isArray(networks) ? ctx.map.at(p) : ctx.map.keyAt(p),
        p,
        `network ${JSON.stringify(network)} is not declared; add \`${network}: {}\` under the top-level networks: key`,
      );
    }
  }
  const aliases = Array.isArray(networks)
    ? []
    : Object.values(networks).flatMap((n) => n?.aliases ?? []);
  return [...new Set(aliases.map((a) => a.toLowerCase()))].filter((a) => a !== name);
}

/** Keys Skiff accepts but does not act on yet: a warning, never silence. */
function lateKeys(name: string, input: ServiceInput, ctx: NormaliseContext): void {
  const x = input["x-skiff"];
  const warn = (key: string, message: string) => {
    const p = ["services", name, "x-skiff", key];
    ctx.problems.add("warning", ctx.map.keyAt(p), p, message);
  };
  if (x?.autoscale) {
    warn(
      "autoscale",
      "x-skiff.autoscale is accepted, but Skiff does not scale on CPU yet: the service runs deploy.replicas (default: autoscale.min) replicas; change the count with skiff scale",
    );
  }
  if (x?.budget) {
    warn("budget", "x-skiff.budget is accepted, but Skiff does not check images against it yet");
  }
}

/**
 * The service's `secrets:` and `configs:` as files: secrets at
 * /run/secrets/NAME (a relative target goes under /run/secrets), configs at
 * /NAME or their target, both with mode 0444 unless set, as in Compose.
 */
function referencedFiles(name: string, input: ServiceInput, ctx: NormaliseContext): PlanFile[] {
  const out: PlanFile[] = [];
  for (const origin of ["secret", "config"] as const) {
    const key = origin === "secret" ? "secrets" : "configs";
    const defs = ctx.top ? (ctx.top[key] ?? {}) : undefined;
    (input[key] ?? []).forEach((entry, i) => {
      const long = typeof entry === "string" ? { source: entry } : entry;
      const p: SpecPath = [
        "services",
        name,
        key,
        ...(typeof entry === "string" ? [i] : [i, "source"]),
      ];
      if (!defs) return;
      const def = Object.hasOwn(defs, long.source) ? defs[long.source] : undefined;
      if (!def) {
        ctx.problems.add(
          "error",
          ctx.map.at(p),
          p,
          `${origin} ${JSON.stringify(long.source)} is not declared; add it under the top-level ${key}: key, with file: or environment:`,
        );
        return;
      }
      const source = fileSource(origin, long.source, def, ctx);
      if (!source) return;
      const target =
        long.target === undefined
          ? origin === "secret"
            ? `/run/secrets/${long.source}`
            : `/${long.source}`
          : long.target.startsWith("/")
            ? long.target
            : `${origin === "secret" ? "/run/secrets" : ""}/${long.target}`;
      const mode = "mode" in long && long.mode !== undefined ? fileMode(long.mode) : 0o444;
      out.push({
        origin,
        name: long.source,
        target,
        ...(mode !== undefined && { mode }),
        ...("uid" in long && long.uid !== undefined && { uid: long.uid }),
        ...("gid" in long && long.gid !== undefined && { gid: long.gid }),
        source,
      });
    });
  }
  return out;
}

type FileDefinition = { file?: string; environment?: string; content?: string; external?: boolean };

function fileSource(
  origin: "secret" | "config",
  name: string,
  def: FileDefinition,
  ctx: NormaliseContext,
): PlanFile["source"] | undefined {
  const key = origin === "secret" ? "secrets" : "configs";
  const first = !ctx.checked.has(`${key}\u0000${name}`);
  ctx.checked.add(`${key}\u0000${name}`);
  if (def.content !== undefined) return { type: "content", content: def.content };
  if (def.environment !== undefined) {
    if (first && !Object.hasOwn(ctx.env, def.environment)) {
      const p = [key, name, "environment"];
      ctx.problems.add(
        "warning",
        ctx.map.at(p),
        p,
        `variable ${def.environment} is not set in the app's config or .env; set it with skiff config:set APP NAME=VALUE (or in the .env file next to the spec) before deploying, or the ${origin} is empty`,
      );
    }
    return { type: "environment", variable: def.environment };
  }
  if (def.file === undefined) return undefined;
  const relative = repoPath(def.file);
  if (!relative.ok) return undefined;
  const kind = ctx.tree.kind(relative.value);
  const p = [key, name, "file"];
  const problem =
    treeProblem(kind, relative.value) ??
    (kind === "missing"
      ? `${JSON.stringify(relative.value)} is not in the repository; the path is relative to the directory of ${ctx.fileName}. Commit the file, or use environment: with a variable set in .env`
      : undefined);
  if (problem) {
    if (first) ctx.problems.add("error", ctx.map.at(p), p, problem);
    return undefined;
  }
  return { type: "tree", path: relative.value, kind: kind === "directory" ? "directory" : "file" };
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
    const kind = ctx.tree.kind(relative.value);
    const bad =
      treeProblem(kind, relative.value) ??
      (kind === "directory"
        ? `${JSON.stringify(relative.value)} is a directory, not a file`
        : undefined);
    if (bad) {
      ctx.problems.add("error", ctx.map.at(where), where, bad);
      continue;
    }
    const text = kind === "file" ? ctx.tree.readText(relative.value) : undefined;
    if (kind === "file" && text === undefined) {
      ctx.problems.add(
        "error",
        ctx.map.at(where),
        where,
        `env file ${JSON.stringify(relative.value)} is too large to be an env file (over 1 MB)`,
      );
      continue;
    }
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
    const read = readDotEnv(text);
    for (const problem of read.problems) {
      ctx.problems.add(
        "warning",
        ctx.map.at(where),
        where,
        `env file ${JSON.stringify(relative.value)}, line ${problem.line}: ${problem.message}`,
      );
    }
    Object.assign(out, read.vars);
  }
  return out;
}
