import { existsSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { parseDotEnv } from "./dotenv.js";
import { parseSpec, type SpecResult } from "./parse.js";
import type { SpecProblem } from "./problem.js";

/** The file names Compose looks for, in its order of precedence. */
export const SPEC_FILE_NAMES = [
  "compose.yaml",
  "compose.yml",
  "docker-compose.yaml",
  "docker-compose.yml",
] as const;

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Finds the spec file in `dir` by Compose's precedence; `file` and `ignored` are names relative to `dir`. */
export function findSpecFile(dir: string): { file: string; ignored: string[] } | undefined {
  const present = SPEC_FILE_NAMES.filter((name) => isFile(join(dir, name)));
  const [file, ...ignored] = present;
  return file === undefined ? undefined : { file, ignored };
}

/**
 * Reads and parses the spec in `dir`. Variables come from `dir/.env`, with
 * `options.env` (the app's config) over them; env_file paths are read
 * relative to `dir` and may not leave it.
 */
export function loadSpec(dir: string, options: { env?: Record<string, string> } = {}): SpecResult {
  const found = findSpecFile(dir);
  if (!found) {
    return {
      ok: false,
      errors: [
        problem(
          "error",
          "compose.yaml",
          `no app spec found in ${dir}: add a compose.yaml (Skiff reads the first of ${SPEC_FILE_NAMES.join(", ")})`,
        ),
      ],
      warnings: [],
    };
  }
  const warnings = found.ignored.map((name) =>
    problem(
      "warning",
      name,
      `ignored, because ${found.file} takes precedence (Compose reads only the first of ${SPEC_FILE_NAMES.join(", ")}); merge it into ${found.file} or delete it`,
    ),
  );
  let text: string;
  try {
    text = readFileSync(join(dir, found.file), "utf8");
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    return {
      ok: false,
      errors: [problem("error", found.file, `cannot read the file: ${reason}`)],
      warnings,
    };
  }
  const dotEnvPath = join(dir, ".env");
  const dotEnv =
    existsSync(dotEnvPath) && isFile(dotEnvPath)
      ? parseDotEnv(readFileSync(dotEnvPath, "utf8"))
      : {};
  const root = resolve(dir);
  const result = parseSpec(text, {
    fileName: found.file,
    env: { ...dotEnv, ...options.env },
    readFile: (relativePath) => {
      const path = resolve(root, relativePath);
      // The parser already refuses paths outside the repository; this guards the file system itself.
      const rel = relative(root, path);
      if (rel.startsWith("..") || isAbsolute(rel) || !isFile(path)) return undefined;
      return readFileSync(path, "utf8");
    },
  });
  return { ...result, warnings: [...warnings, ...result.warnings] };
}

function problem(severity: SpecProblem["severity"], file: string, message: string): SpecProblem {
  return { severity, file, line: 0, column: 0, path: "", message };
}
