// The app spec pipeline: YAML → keys sorted → interpolation → validation
// (zod, one service at a time) → normalisation → cross-field rules. Every
// stage reports into one ProblemList and the pipeline goes as far as it can,
// so a user sees all their mistakes at once; nothing throws on bad input.

import { interpolate } from "./interpolate.js";
import { checkKeys, isMapping } from "./keys.js";
import { readYaml, type SourceMap } from "./locate.js";
import { volumeNameOf } from "./mounts.js";
import { type NormaliseContext, normaliseService, type ServiceOrigins } from "./normalise.js";
import { type Prepared, prepareServices } from "./prepare.js";
import {
  byPosition,
  describeValue,
  ProblemList,
  type SpecPath,
  type SpecProblem,
} from "./problem.js";
import { checkRules } from "./rules.js";
import { composeSchema, serviceSchema } from "./schema.js";
import type { SpecTree } from "./tree.js";
import type { AppSpec, ServiceSpec, TestSpec } from "./types.js";
import { reportedId, validate } from "./validate.js";

/** The outcome of reading a spec: the spec and its warnings, or every error found. */
export type SpecResult =
  | { ok: true; spec: AppSpec; warnings: SpecProblem[] }
  | { ok: false; errors: SpecProblem[]; warnings: SpecProblem[] };

/** Options for parseSpec. */
export interface ParseOptions {
  /** Name shown in problems, e.g. `compose.yaml`. */
  fileName: string;
  /** Variables for interpolation and for `environment:` entries without a value. */
  env?: Record<string, string>;
  /**
   * The pushed tree, confined to itself: env files, bound paths and secret
   * files are looked up in it. Without one, every path is missing.
   */
  tree?: SpecTree;
}

const EMPTY_TREE: SpecTree = { kind: () => "missing", readText: () => undefined };

const EXAMPLE = "services: { web: { build: ., x-skiff: { port: 3000 } } }";

/** Parses and validates the text of a Compose file with x-skiff keys; never throws on bad input. */
export function parseSpec(text: string, options: ParseOptions): SpecResult {
  const problems = new ProblemList(options.fileName);
  const env = options.env ?? {};
  const done = (spec?: AppSpec): SpecResult => {
    const warnings = sharedOnce(problems.warnings).sort(byPosition);
    if (problems.hasErrors || !spec) {
      return { ok: false, errors: sharedOnce(problems.errors).sort(byPosition), warnings };
    }
    return { ok: true, spec, warnings };
  };

  const { root, map } = readYaml(text, problems);
  if (problems.hasErrors) return done();
  if (root === null || root === undefined) {
    problems.add(
      "error",
      { line: 1, column: 1 },
      [],
      `the file is empty; describe the app's services, e.g. ${EXAMPLE}`,
    );
    return done();
  }
  if (!isMapping(root)) {
    problems.add(
      "error",
      map.at([]),
      [],
      // The file as a whole is never quoted: it may be nothing but a pasted token.
      `the file must be a mapping with a services: key (got ${kindOf(root)}), e.g. ${EXAMPLE}`,
    );
    return done();
  }

  const prepared: Prepared = isMapping(root.services)
    ? prepareServices(root.services, map, problems)
    : { extendsOf: new Map(), disabled: [], failed: new Set() };
  checkKeys(composeSchema, root, [], map, problems);
  const reported = interpolateTree(root, [], env, map, problems);
  const ctx = { map, problems, reported };

  const { services: rawServices, ...rest } = root;
  const top = validate(composeSchema.omit({ services: true }), rest, [], ctx);
  const declaredVolumes = top ? Object.keys(top.volumes ?? {}) : undefined;
  // Repository directories that become named volumes, by path, in the order first bound.
  const derived = new Map<string, string>();
  const volumeNameFor = (path: string) => {
    const known = derived.get(path);
    if (known) return known;
    const taken = new Set([...(declaredVolumes ?? []), ...derived.values()]);
    const base = volumeNameOf(path);
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
    derived.set(path, name);
    return name;
  };

  const names: string[] = [];
  const valid = new Map<string, { spec: ServiceSpec; origins: ServiceOrigins }>();
  const unvalidatedDependsOn = new Map<string, unknown>();
  const normaliseCtx: NormaliseContext = {
    fileName: options.fileName,
    env,
    tree: options.tree ?? EMPTY_TREE,
    map,
    problems,
    ...(top && { top }),
    volumeNameFor,
    checked: new Set(),
  };
  if (rawServices === undefined) {
    problems.add(
      "error",
      map.at([]),
      ["services"],
      `is required: describe the app's services, e.g. ${EXAMPLE}`,
    );
  } else if (!isMapping(rawServices)) {
    if (!reported.has(reportedId(["services"]))) {
      problems.add(
        "error",
        map.at(["services"]),
        ["services"],
        `must be a mapping of service names to services (got ${describeValue(rawServices)})`,
      );
    }
  } else if (Object.keys(rawServices).length === 0) {
    problems.add(
      "error",
      map.keyAt(["services"]),
      ["services"],
      prepared.disabled.length > 0
        ? `every service has profiles (${prepared.disabled.join(", ")}), so there is nothing to deploy; remove profiles: from the services to deploy`
        : `must define at least one service, e.g. ${EXAMPLE}`,
    );
  } else {
    for (const [name, raw] of Object.entries(rawServices)) {
      names.push(name);
      // `web:` with nothing under it is an empty service; the rules then say what it needs.
      const input = validate(serviceSchema, raw ?? {}, ["services", name], ctx);
      if (input) {
        const normalised = normaliseService(name, input, normaliseCtx);
        const base = prepared.extendsOf.get(name);
        if (base !== undefined) normalised.origins.extends = base;
        if (prepared.failed.has(name)) normalised.origins.extendsFailed = true;
        valid.set(name, normalised);
      } else if (isMapping(raw) && raw.depends_on !== undefined) {
        unvalidatedDependsOn.set(name, raw.depends_on);
      }
    }
  }

  const volumes = declaredVolumes ? [...declaredVolumes, ...derived.values()] : undefined;
  const tests = (top?.["x-skiff"]?.test ?? []).map((test, i) => ({
    test,
    path: ["x-skiff", "test", i] as SpecPath,
  }));
  checkRules({
    names,
    services: valid,
    volumes,
    networks: top ? Object.keys(top.networks ?? {}) : undefined,
    tests,
    map,
    problems,
    unvalidatedDependsOn,
  });

  if (!top || valid.size !== names.length || names.length === 0) return done();
  return done({
    file: options.fileName,
    services: Object.fromEntries([...valid].map(([name, s]) => [name, s.spec])),
    volumes: volumes ?? [],
    tests: tests.map(
      ({ test }): TestSpec => ({
        service: test.service,
        run: test.run,
        ...(test.cache === false ? { cache: false } : {}),
      }),
    ),
  });
}

/** The kind of a value, never the value itself. */
function kindOf(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return "a plain string";
  if (typeof value === "number") return "a number";
  if (typeof value === "boolean") return "true/false";
  return describeValue(value);
}

/**
 * One problem per mistake: a value shared through a YAML anchor is checked
 * wherever an alias uses it, and each use reports the same message at the
 * anchored text. Those become one problem, at the first path, naming each
 * place that uses the value.
 */
function sharedOnce(problems: readonly SpecProblem[]): SpecProblem[] {
  const groups = new Map<string, SpecProblem[]>();
  for (const p of problems) {
    const id = `${p.line}:${p.column}:${p.message}`;
    const group = groups.get(id);
    if (group) group.push(p);
    else groups.set(id, [p]);
  }
  return [...groups.values()].map((group) => {
    const first = group[0] as SpecProblem;
    const paths = [...new Set(group.map((p) => p.path))];
    if (paths.length < 2) return first;
    return {
      ...first,
      message: `${first.message} (this value is shared through a YAML anchor, and used at ${paths.join(", ")})`,
    };
  });
}

/**
 * Interpolates every string value in place (keys are left alone, as in
 * Compose). Returns the paths whose interpolation failed, so validation
 * does not report the same value twice.
 */
function interpolateTree(
  value: unknown,
  path: SpecPath,
  env: Readonly<Record<string, string>>,
  map: SourceMap,
  problems: ProblemList,
): Set<string> {
  const failed = new Set<string>();
  const visit = (
    container: Record<string | number, unknown>,
    key: string | number,
    at: SpecPath,
  ) => {
    const v = container[key];
    if (typeof v === "string") {
      if (!v.includes("$")) return;
      const result = interpolate(v, env);
      if (!result.ok) {
        problems.add("error", map.at(at), at, result.error);
        failed.add(reportedId(at));
        return;
      }
      for (const name of result.unset) {
        problems.add(
          "warning",
          map.at(at),
          at,
          `variable ${name} is not set; using an empty string`,
        );
      }
      container[key] = result.value;
    } else if (Array.isArray(v)) {
      v.forEach((_, i) => {
        visit(v as unknown as Record<number, unknown>, i, [...at, i]);
      });
    } else if (isMapping(v)) {
      for (const k of Object.keys(v)) visit(v, k, [...at, k]);
    }
  };
  if (isMapping(value)) for (const k of Object.keys(value)) visit(value, k, [...path, k]);
  return failed;
}
