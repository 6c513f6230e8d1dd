import { join } from "node:path";
import { SourceTree } from "../source/tree.js";
import { parseDotEnv } from "./dotenv.js";
import { parseSpec, type SpecResult } from "./parse.js";
import type { SpecProblem } from "./problem.js";
import { describeTreeEntry, TREE_TEXT_LIMIT_BYTES } from "./tree.js";
import type { AppSpec } from "./types.js";

/** The file names Compose looks for, in its order of precedence. */
export const SPEC_FILE_NAMES = [
  "compose.yaml",
  "compose.yml",
  "docker-compose.yaml",
  "docker-compose.yml",
] as const;

/** What findSpecFile saw: the spec file, the ones it shadows, and names that lead out of the tree. */
export interface FoundSpecFile {
  file: string;
  ignored: string[];
}

/**
 * Finds the spec file in the tree by Compose's precedence; `file` and
 * `ignored` are names relative to its root. A name that is a link leading
 * outside the tree counts as present, so that loadSpec refuses it instead of
 * quietly reading the next name.
 */
export function findSpecFile(dir: string | SourceTree): FoundSpecFile | undefined {
  const tree = typeof dir === "string" ? new SourceTree(dir) : dir;
  const present = SPEC_FILE_NAMES.filter((name) => {
    const kind = tree.kind(name);
    return kind === "file" || kind === "outside";
  });
  const [file, ...ignored] = present;
  return file === undefined ? undefined : { file, ignored };
}

/**
 * Reads and parses the spec at the root of the tree in `dir`. Variables come
 * from `.env`, with `options.env` (the app's config) over them. Every file is
 * read through a SourceTree, so nothing a link in the tree points at outside
 * it is ever opened.
 */
/** A loaded spec, with the variables it was interpolated with (for what reads them later, such as `environment:` secrets). */
export type LoadedSpec = SpecResult & { variables: Record<string, string> };

export function loadSpec(dir: string, options: { env?: Record<string, string> } = {}): LoadedSpec {
  const tree = new SourceTree(dir);
  const found = findSpecFile(tree);
  if (!found) {
    return withNoVariables([
      problem(
        "error",
        "compose.yaml",
        `no app spec at the root of the repository: add a compose.yaml (Skiff reads the first of ${SPEC_FILE_NAMES.join(", ")})`,
      ),
    ]);
  }
  const warnings = found.ignored.map((name) =>
    problem(
      "warning",
      name,
      `ignored, because ${found.file} takes precedence (Compose reads only the first of ${SPEC_FILE_NAMES.join(", ")}); merge it into ${found.file} or delete it`,
    ),
  );
  const text = readTreeText(tree, found.file);
  if (typeof text !== "string") return withNoVariables([text], warnings);
  let dotEnv: Record<string, string> = {};
  if (tree.kind(".env") !== "missing") {
    const dotEnvText = readTreeText(tree, ".env");
    if (typeof dotEnvText !== "string") return withNoVariables([dotEnvText], warnings);
    dotEnv = parseDotEnv(dotEnvText);
  }
  // Compose runs in a shell whose PWD is the project's directory, and files
  // write `${PWD}/config/app.conf` for a file of the repository; here the
  // project is the tree's root, so PWD is ".", never the server's own.
  const variables = { PWD: ".", ...dotEnv, ...options.env };
  const result = parseSpec(text, { fileName: found.file, env: variables, tree });
  const allWarnings = [...warnings, ...result.warnings];
  if (!result.ok) return { ...result, warnings: allWarnings, variables };
  const pathErrors = buildPathProblems(tree, result.spec);
  if (pathErrors.length > 0) return { ...failed(pathErrors, allWarnings), variables };
  return { ...result, warnings: allWarnings, variables };
}

/**
 * Each build context must be a directory of the tree and hold its Dockerfile,
 * both reached without leaving the tree: a context linked out of it
 * (`home -> ../../..`) would send the host's files to the builder.
 */
function buildPathProblems(tree: SourceTree, spec: AppSpec): SpecProblem[] {
  const problems: SpecProblem[] = [];
  for (const service of Object.values(spec.services)) {
    if (!service.build) continue;
    const { context, dockerfile } = service.build;
    const contextKind = tree.kind(context);
    const at = `services.${service.name}.build`;
    if (contextKind !== "directory") {
      problems.push(
        located(
          spec.file,
          `${at}.context`,
          `${JSON.stringify(context)} ${describeTreeEntry(contextKind, "a directory")}`,
        ),
      );
      continue;
    }
    const dockerfileKind = tree.kind(join(context, dockerfile));
    if (dockerfileKind !== "file") {
      problems.push(
        located(
          spec.file,
          `${at}.dockerfile`,
          `${JSON.stringify(dockerfile)} in the context ${JSON.stringify(context)} ${describeTreeEntry(dockerfileKind, "a file")}`,
        ),
      );
    }
  }
  return problems;
}

/** The text of a file of the tree, or the problem that says why it cannot be read (never its content). */
function readTreeText(tree: SourceTree, name: string): string | SpecProblem {
  const kind = tree.kind(name);
  if (kind !== "file") return problem("error", name, describeTreeEntry(kind, "a file"));
  const text = tree.readText(name);
  if (text === undefined) {
    return problem(
      "error",
      name,
      `is larger than ${TREE_TEXT_LIMIT_BYTES / 1024 / 1024} MB; an app spec or .env file is never that big`,
    );
  }
  return text;
}

function failed(errors: SpecProblem[], warnings: SpecProblem[] = []): SpecResult {
  return { ok: false, errors, warnings };
}

function withNoVariables(errors: SpecProblem[], warnings: SpecProblem[] = []): LoadedSpec {
  return { ...failed(errors, warnings), variables: {} };
}

function located(file: string, path: string, message: string): SpecProblem {
  return { severity: "error", file, line: 0, column: 0, path, message };
}

function problem(severity: SpecProblem["severity"], file: string, message: string): SpecProblem {
  return { severity, file, line: 0, column: 0, path: "", message };
}
