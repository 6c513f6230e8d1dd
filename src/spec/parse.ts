// The app spec pipeline: YAML → keys sorted → interpolation → validation
// (zod, one service at a time) → normalisation → cross-field rules. Every
// stage reports into one ProblemList and the pipeline goes as far as it can,
// so a user sees all their mistakes at once; nothing throws on bad input.

import { interpolate } from "./interpolate.js";
import { checkKeys, isMapping } from "./keys.js";
import { readYaml, type SourceMap } from "./locate.js";
import { type NormaliseContext, normaliseService, type ServiceOrigins } from "./normalise.js";
import {
  byPosition,
  describeValue,
  ProblemList,
  type SpecPath,
  type SpecProblem,
} from "./problem.js";
import { checkRules } from "./rules.js";
import { composeSchema, serviceSchema } from "./schema.js";
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
  /** Reads a file relative to the spec's directory (for env_file); undefined when it does not exist. */
  readFile?: (relativePath: string) => string | undefined;
}

const EXAMPLE = "services: { web: { build: ., x-skiff: { port: 3000 } } }";

/** Parses and validates the text of a Compose file with x-skiff keys; never throws on bad input. */
export function parseSpec(text: string, options: ParseOptions): SpecResult {
  const problems = new ProblemList(options.fileName);
  const env = options.env ?? {};
  const done = (spec?: AppSpec): SpecResult => {
    const warnings = [...problems.warnings].sort(byPosition);
    if (problems.hasErrors || !spec) {
      return { ok: false, errors: [...problems.errors].sort(byPosition), warnings };
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
      `the file must be a mapping with a services: key (got ${describeValue(root)}), e.g. ${EXAMPLE}`,
    );
    return done();
  }

  checkKeys(composeSchema, root, [], map, problems);
  const reported = interpolateTree(root, [], env, map, problems);
  const ctx = { map, problems, reported };

  const { services: rawServices, ...rest } = root;
  const top = validate(composeSchema.omit({ services: true }), rest, [], ctx);

  const names: string[] = [];
  const valid = new Map<string, { spec: ServiceSpec; origins: ServiceOrigins }>();
  const unvalidatedDependsOn = new Map<string, unknown>();
  const normaliseCtx: NormaliseContext = {
    fileName: options.fileName,
    env,
    map,
    problems,
    ...(options.readFile && { readFile: options.readFile }),
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
      `must define at least one service, e.g. ${EXAMPLE}`,
    );
  } else {
    for (const [name, raw] of Object.entries(rawServices)) {
      names.push(name);
      // `web:` with nothing under it is an empty service; the rules then say what it needs.
      const input = validate(serviceSchema, raw ?? {}, ["services", name], ctx);
      if (input) valid.set(name, normaliseService(name, input, normaliseCtx));
      else if (isMapping(raw) && raw.depends_on !== undefined) {
        unvalidatedDependsOn.set(name, raw.depends_on);
      }
    }
  }

  const volumes = top ? Object.keys(top.volumes ?? {}) : undefined;
  const tests = (top?.["x-skiff"]?.test ?? []).map((test, i) => ({
    test,
    path: ["x-skiff", "test", i] as SpecPath,
  }));
  checkRules({ names, services: valid, volumes, tests, map, problems, unvalidatedDependsOn });

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
