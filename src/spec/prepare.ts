// Compose features that change which services the file holds, applied to the
// raw YAML data before any key is checked: `extends` (a service starts from
// another of the same file) and `profiles` (a service with profiles is not
// started by `docker compose up` without --profile, so Skiff does not deploy
// it). Afterwards every service stands alone, and validation sees what will
// be deployed.

import { closest, isMapping } from "./keys.js";
import type { SourceMap } from "./locate.js";
import type { ProblemList, SpecPath } from "./problem.js";

/** What preparing found out, for the rules' messages. */
export interface Prepared {
  /** The service each service extends, directly. */
  extendsOf: Map<string, string>;
  /** Services left out because they have profiles. */
  disabled: string[];
  /** Services whose extends could not be applied (an error says why), so their other rules would only repeat it. */
  failed: Set<string>;
}

// Compose's merge rules for extends (compose-spec, "Merge and override"):
// these sequences are appended; mappings are merged key by key; anything
// else is replaced by the extending service's value.
const APPENDED = new Set([
  "ports",
  "expose",
  "external_links",
  "dns",
  "dns_search",
  "tmpfs",
  "cap_add",
  "cap_drop",
  "security_opt",
  "volumes",
  "secrets",
  "configs",
  "env_file",
  "devices",
  "networks",
  "links",
  "volumes_from",
]);
// Lists of KEY=VALUE that Compose merges by key with their mapping forms.
const KEYED = new Set(["environment", "labels", "args", "extra_hosts", "sysctls"]);

/** Applies `extends` and `profiles` to `services` in place, reporting what cannot be done. */
export function prepareServices(
  services: Record<string, unknown>,
  map: SourceMap,
  problems: ProblemList,
): Prepared {
  const extendsOf = new Map<string, string>();
  const failed = new Set<string>();
  const names = Object.keys(services);
  const resolved = new Set<string>();
  const resolve = (name: string, chain: string[]) => {
    if (resolved.has(name)) return;
    const raw = services[name];
    const ext = isMapping(raw) ? raw.extends : undefined;
    const at: SpecPath = ["services", name, "extends"];
    const base =
      typeof ext === "string"
        ? ext
        : isMapping(ext) && typeof ext.service === "string"
          ? ext.service
          : undefined;
    if (!isMapping(raw) || base === undefined) {
      // No extends, or one whose shape validation reports.
      resolved.add(name);
      return;
    }
    const basePath: SpecPath = typeof ext === "string" ? at : [...at, "service"];
    if (isMapping(ext) && ext.file !== undefined) {
      problems.add(
        "error",
        map.at([...at, "file"]),
        [...at, "file"],
        `extends from another file is not supported: Skiff reads only ${problems.file}. Copy service ${base} into this file and extend it here, or share the settings with a YAML anchor (x-common: &common, then <<: *common)`,
      );
      failed.add(name);
      resolved.add(name);
      return;
    }
    if (!Object.hasOwn(services, base)) {
      const guess = closest(base, names);
      problems.add(
        "error",
        map.at(basePath),
        basePath,
        `${JSON.stringify(base)} is not a service in this file (services: ${names.join(", ")})${guess ? `; did you mean ${JSON.stringify(guess)}?` : ""}`,
      );
      failed.add(name);
      resolved.add(name);
      return;
    }
    if (chain.includes(base) || base === name) {
      problems.add(
        "error",
        map.at(basePath),
        basePath,
        `extends cycle: ${[...chain, name, base].join(" → ")}; a service cannot extend itself, directly or not`,
      );
      failed.add(name);
      resolved.add(name);
      return;
    }
    resolve(base, [...chain, name]);
    const from = services[base];
    extendsOf.set(name, base);
    if (isMapping(from)) {
      const { extends: _e, profiles: _p, ...inherited } = from;
      services[name] = merge(inherited, raw, ["services", base], ["services", name], map);
    }
    resolved.add(name);
  };
  for (const name of names) resolve(name, []);

  const disabled: string[] = [];
  for (const name of names) {
    const raw = services[name];
    const profiles = isMapping(raw) ? raw.profiles : undefined;
    if (!Array.isArray(profiles) || profiles.length === 0) continue;
    disabled.push(name);
    const at: SpecPath = ["services", name, "profiles"];
    problems.add(
      "warning",
      map.keyAt(at),
      at,
      `${name} is not deployed: it has profiles (${profiles.map(String).join(", ")}), and like docker compose up without --profile, Skiff deploys only services without profiles. Remove profiles: to deploy it`,
    );
  }
  for (const name of disabled) delete services[name];
  if (disabled.length > 0) dropDependencies(services, new Set(disabled), map, problems);
  return { extendsOf, disabled, failed };
}

/** Removes depends_on entries on services that are not deployed, saying so at each. */
function dropDependencies(
  services: Record<string, unknown>,
  disabled: Set<string>,
  map: SourceMap,
  problems: ProblemList,
): void {
  const warn = (path: SpecPath, dep: string) =>
    problems.add(
      "warning",
      map.keyAt(path),
      path,
      `${dep} is not deployed (it has profiles), so this dependency is dropped`,
    );
  for (const [name, raw] of Object.entries(services)) {
    if (!isMapping(raw)) continue;
    const deps = raw.depends_on;
    const base: SpecPath = ["services", name, "depends_on"];
    if (Array.isArray(deps)) {
      const kept: unknown[] = [];
      deps.forEach((dep, i) => {
        if (typeof dep === "string" && disabled.has(dep)) warn([...base, i], dep);
        else {
          if (kept.length !== i) map.move([...base, i], [...base, kept.length]);
          kept.push(dep);
        }
      });
      raw.depends_on = kept;
    } else if (isMapping(deps)) {
      for (const dep of Object.keys(deps)) {
        if (!disabled.has(dep)) continue;
        warn([...base, dep], dep);
        delete deps[dep];
      }
    }
  }
}

/** Merges `own` over `base` by Compose's rules, moving source positions so each value is reported where it is written. */
function merge(
  base: Record<string, unknown>,
  own: Record<string, unknown>,
  basePath: SpecPath,
  ownPath: SpecPath,
  map: SourceMap,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...own };
  for (const [key, inherited] of Object.entries(base)) {
    const from = [...basePath, key];
    const to = [...ownPath, key];
    if (!Object.hasOwn(own, key)) {
      out[key] = structuredClone(inherited);
      map.copyMissing(from, to);
      continue;
    }
    const mine = own[key];
    if (KEYED.has(key) && (Array.isArray(mine) || Array.isArray(inherited))) {
      out[key] = { ...keyed(inherited), ...keyed(mine) };
      continue;
    }
    if (isMapping(mine) && isMapping(inherited)) {
      out[key] = merge(inherited, mine, from, to, map);
    } else if (APPENDED.has(key) && Array.isArray(mine) && Array.isArray(inherited)) {
      // The inherited items come first, as in Compose; the service's own shift after them.
      for (let i = mine.length - 1; i >= 0; i--)
        map.move([...to, i], [...to, i + inherited.length]);
      inherited.forEach((_, i) => {
        map.copyMissing([...from, i], [...to, i]);
      });
      out[key] = [...structuredClone(inherited), ...mine];
    }
  }
  return out;
}

/** A KEY=VALUE list or a mapping, as a mapping (a bare KEY has no value: null). */
function keyed(value: unknown): Record<string, unknown> {
  if (isMapping(value)) return value;
  if (!Array.isArray(value)) return {};
  const out: Record<string, unknown> = {};
  for (const item of value) {
    const text = String(item);
    const eq = text.indexOf("=");
    if (eq < 0) out[text] = null;
    else out[text.slice(0, eq)] = text.slice(eq + 1);
  }
  return out;
}
