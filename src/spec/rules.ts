// Rules that span fields or services, run on the normalised spec. Each one
// reports at the value that has to change and says how to fix it.

import { checkVolumeName, isServiceName, toServiceName } from "./forms.js";
import { closest } from "./keys.js";
import type { SourceMap } from "./locate.js";
import type { ServiceOrigins } from "./normalise.js";
import type { ProblemList, SpecPath } from "./problem.js";
import type { ServiceSpec, TestSpec } from "./types.js";

/** Everything the rules look at. Services that failed validation are only in `names`. */
export interface RuleInput {
  /** Every service name in the file, in file order, valid or not. */
  names: string[];
  /** The services that passed validation. */
  services: Map<string, { spec: ServiceSpec; origins: ServiceOrigins }>;
  /** Named volumes (declared, then made of repository directories); undefined when the top-level key was invalid (then volume rules are skipped). */
  volumes: string[] | undefined;
  /** Declared top-level networks; undefined when the top level was invalid. */
  networks?: string[] | undefined;
  tests: { test: TestSpec; path: SpecPath }[];
  map: SourceMap;
  problems: ProblemList;
  /**
   * The raw `depends_on` of services that failed validation: their names
   * are still checked, so every problem shows at once.
   */
  unvalidatedDependsOn?: Map<string, unknown>;
}

/** Applies the cross-field rules, reporting into `input.problems`. */
export function checkRules(input: RuleInput): void {
  const { names, services, map, problems } = input;
  const error = (path: SpecPath, message: string) =>
    problems.add("error", map.at(path), path, message);
  const keyError = (path: SpecPath, message: string) =>
    problems.add("error", map.keyAt(path), path, message);
  const known = new Set(names);
  const list = names.join(", ");
  const unknownService = (name: string) => {
    const guess = closest(name, names);
    return `${JSON.stringify(name)} is not a service in this file (services: ${list})${guess ? `; did you mean ${JSON.stringify(guess)}?` : ""}`;
  };

  const byLowercase = new Map<string, string>();
  for (const name of names) {
    if (!isServiceName(name)) {
      keyError(
        ["services", name],
        `service names may hold letters and digits, separated by - or _, at most 63 characters, because a service's name is its hostname on the app network and part of its image's name; try ${JSON.stringify(toServiceName(name))}`,
      );
      continue;
    }
    const same = byLowercase.get(name.toLowerCase());
    if (same !== undefined) {
      keyError(
        ["services", name],
        `is the same name as ${JSON.stringify(same)} but for capitals: host names on the app network and image names ignore case, so the two would be one; rename one of them`,
      );
    }
    byLowercase.set(name.toLowerCase(), name);
  }

  const networks = input.networks ?? [];
  if (networks.length > 1) {
    problems.add(
      "warning",
      map.keyAt(["networks"]),
      ["networks"],
      `an app has one network, so ${networks.join(", ")} are all that network: every service reaches every other by name. Services kept apart on separate networks are not kept apart`,
    );
  }

  for (const [name, raw] of input.unvalidatedDependsOn ?? []) {
    const base: SpecPath = ["services", name, "depends_on"];
    const entries: [string, SpecPath][] = Array.isArray(raw)
      ? raw.flatMap((dep, i): [string, SpecPath][] =>
          typeof dep === "string" ? [[dep, [...base, i]]] : [],
        )
      : raw && typeof raw === "object"
        ? Object.keys(raw).map((dep): [string, SpecPath] => [dep, [...base, dep]])
        : [];
    for (const [dep, path] of entries) {
      if (dep === name) keyError(path, "a service cannot depend on itself");
      else if (!known.has(dep)) keyError(path, unknownService(dep));
    }
  }

  for (const volume of input.volumes ?? []) {
    const bad = checkVolumeName(volume);
    if (bad) keyError(["volumes", volume], bad);
  }

  const portServices = [...services.values()].filter((s) => s.spec.skiff.port !== undefined);
  if (services.size > 0 && services.size === names.length && portServices.length === 0) {
    problems.add(
      "warning",
      map.keyAt(["services"]),
      ["services"],
      'no service has an HTTP port to route, so nothing will be reachable from outside the app: give the web service ports: (e.g. ports: ["8080:3000"], the container port after the colon) or x-skiff.port: 3000, and the edge routes it at the app\'s domain',
    );
  }
  const domainOwners = new Map<string, { service: string; path: SpecPath }>();

  for (const { spec, origins } of services.values()) {
    const at = (...rest: (string | number)[]) => [...origins.self, ...rest];
    if (!spec.build && !spec.image && !origins.extendsFailed) {
      keyError(
        origins.self,
        origins.extends === undefined
          ? "needs build: (a directory with a Dockerfile) or image: (an image to run)"
          : `needs build: (a directory with a Dockerfile) or image: (an image to run); it extends ${origins.extends}, which has neither`,
      );
    }

    // Binds, secrets and configs are written into the container before it
    // starts (PUT /containers/{id}/archive): Docker refuses that on a
    // read-only root file system, and a tmpfs mounted at start hides what
    // was written under it.
    const files = spec.files ?? [];
    if (files.length > 0 && spec.readOnly) {
      error(
        at("read_only"),
        `cannot go with this service's binds, secrets or configs (${files.map((f) => f.target).join(", ")}): Skiff writes them into the container before it starts, which a read-only root file system refuses. Drop read_only, or COPY the files in the Dockerfile`,
      );
    }
    for (const mount of Object.keys(spec.tmpfs ?? {})) {
      const hidden = files.filter(
        (f) => f.target === mount || f.target.startsWith(`${mount.replace(/\/+$/, "")}/`),
      );
      if (hidden.length > 0) {
        error(
          at("tmpfs"),
          `${mount} would hide ${hidden.map((f) => f.target).join(", ")}: a tmpfs is mounted over what the release put there. Mount the tmpfs elsewhere, or move the file's target`,
        );
      }
    }

    for (const dep of spec.dependsOn) {
      // The entry's name: the list item, or the key in the mapping form.
      const path = origins.dependsOn.get(dep.service) ?? at("depends_on");
      if (dep.service === spec.name) {
        keyError(path, "a service cannot depend on itself");
      } else if (!known.has(dep.service)) {
        keyError(path, unknownService(dep.service));
      } else if (dep.condition === "service_healthy") {
        const target = services.get(dep.service)?.spec;
        if (target && !hasHealthCheck(target)) {
          keyError(
            path,
            `condition service_healthy needs a health check on ${dep.service}: give it a healthcheck:, or x-skiff.port for an HTTP check`,
          );
        }
      }
    }

    spec.volumes.forEach((mount, i) => {
      if (input.volumes && !input.volumes.includes(mount.source)) {
        error(
          origins.volumes[i] ?? at("volumes"),
          `volume ${JSON.stringify(mount.source)} is not declared; add \`${mount.source}: {}\` under the top-level volumes: key`,
        );
      }
    });

    if (spec.volumes.length > 0) {
      const why = `a service with a named volume (${spec.volumes[0]?.source}) is stateful: it runs as one container, because two must never write the same volume at once`;
      if (spec.replicas > 1) error(at("deploy", "replicas"), `${why} (got ${spec.replicas})`);
      if (spec.skiff.autoscale) keyError(at("x-skiff", "autoscale"), `${why}; remove autoscale`);
      if (spec.update.order === "start-first") {
        error(at("deploy", "update_config", "order"), `${why}; use stop-first`);
      }
    }

    if (spec.skiff.port === undefined) {
      if (spec.skiff.domains.length > 0) {
        keyError(
          at("x-skiff", "domains"),
          "needs x-skiff.port: the container port the edge routes these domains to",
        );
      }
      if (spec.skiff.health) {
        keyError(
          at("x-skiff", "health"),
          "needs x-skiff.port: the container port the HTTP check connects to",
        );
      }
    }

    const checkedBy = healthCheckOf(spec);
    if (spec.skiff.stableForMs !== undefined && checkedBy !== undefined) {
      // Without a port, an HTTP key already got "needs x-skiff.port"; one mistake, one error.
      if (spec.skiff.port !== undefined || checkedBy !== "http") {
        error(
          at("x-skiff", "health", "stable_for"),
          `applies only to a service without a health check, and ${spec.name} ${checkedBy === "http" ? "is checked over HTTP on x-skiff.port" : "has a healthcheck:, which decides when a new replica is healthy"}; remove stable_for`,
        );
      }
    }

    const auto = spec.skiff.autoscale;
    if (auto) {
      if (auto.min > auto.max) {
        error(
          at("x-skiff", "autoscale", "min"),
          `must not be greater than max (${auto.max}) (got ${auto.min})`,
        );
      } else if (spec.replicas < auto.min || spec.replicas > auto.max) {
        error(
          at("deploy", "replicas"),
          `must be within x-skiff.autoscale min and max (${auto.min} to ${auto.max}), or left out to start at min (got ${spec.replicas})`,
        );
      }
    }

    spec.skiff.domains.forEach((domain, i) => {
      const path = origins.domains[i] ?? at("x-skiff", "domains");
      const owner = domainOwners.get(domain);
      if (owner) {
        const first = map.at(owner.path);
        error(
          path,
          `domain ${domain} is already routed to ${owner.service === spec.name ? "this service" : `service ${owner.service}`} (line ${first.line}); a domain can go to one service only`,
        );
      } else {
        domainOwners.set(domain, { service: spec.name, path });
      }
    });
  }

  for (const { test, path } of input.tests) {
    if (!known.has(test.service)) error([...path, "service"], unknownService(test.service));
  }

  for (const cycle of findCycles(names, services)) {
    const [first, second] = cycle;
    const origin = services.get(first as string)?.origins;
    const path = origin?.dependsOn.get(second as string) ?? ["services", first as string];
    keyError(
      path,
      `dependency cycle: ${cycle.join(" → ")}; no service in it could start first. Remove one of these depends_on entries`,
    );
  }
}

/** How a deploy will check the service's new replicas, when it checks more than that they keep running. */
function healthCheckOf(spec: ServiceSpec): "http" | "healthcheck" | undefined {
  if (spec.skiff.health) return "http";
  if (spec.healthcheck) return spec.healthcheck.disabled ? undefined : "healthcheck";
  return spec.skiff.port !== undefined ? "http" : undefined;
}

function hasHealthCheck(spec: ServiceSpec): boolean {
  if (spec.healthcheck && !spec.healthcheck.disabled) return true;
  return spec.skiff.port !== undefined || spec.skiff.health !== undefined;
}

/** Each dependency cycle once, as names starting and ending with its earliest service in file order. */
function findCycles(names: string[], services: RuleInput["services"]): string[][] {
  const order = new Map(names.map((n, i) => [n, i]));
  const state = new Map<string, "active" | "done">();
  const stack: string[] = [];
  const seen = new Set<string>();
  const cycles: string[][] = [];
  const visit = (name: string) => {
    state.set(name, "active");
    stack.push(name);
    for (const dep of services.get(name)?.spec.dependsOn ?? []) {
      if (dep.service === name || !services.has(dep.service)) continue;
      const s = state.get(dep.service);
      if (s === "active") {
        const members = stack.slice(stack.indexOf(dep.service));
        // Rotate so the cycle starts at its earliest service: the same cycle reads the same way every time.
        const start = members.reduce((a, b) => ((order.get(b) ?? 0) < (order.get(a) ?? 0) ? b : a));
        const k = members.indexOf(start);
        const rotated = [...members.slice(k), ...members.slice(0, k)];
        const id = [...rotated].sort().join("\u0000");
        if (!seen.has(id)) {
          seen.add(id);
          cycles.push([...rotated, start]);
        }
      } else if (s === undefined) {
        visit(dep.service);
      }
    }
    stack.pop();
    state.set(name, "done");
  };
  for (const name of names) if (services.has(name) && !state.has(name)) visit(name);
  return cycles;
}
