import { shortenedForMessage } from "../quoted-value.js";

/**
 * One problem found in an app spec. Every stage of the parser reports through
 * this shape, so the CLI, the API and `git push` all print the same lines.
 */
export type SpecProblem = {
  severity: "error" | "warning";
  /** The spec file's name as the user knows it, e.g. `compose.yaml`. */
  file: string;
  /** 1-based line of the offending value (or of its key when the value is missing); 0 when the problem has no place in the file. */
  line: number;
  /** 1-based column, as `line`. */
  column: number;
  /** Dotted path to the value, e.g. `services.web.deploy.replicas`; empty for the file as a whole. */
  path: string;
  /** What is wrong and what would be valid. */
  message: string;
};

/** A path into the spec as the YAML parser and zod see it: map keys and list indexes. */
export type SpecPath = readonly (string | number)[];

/** Formats a problem as `compose.yaml:12:7 services.web.deploy.replicas: must be ...`. */
export function formatProblem(p: SpecProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file;
  return p.path === "" ? `${where} ${p.message}` : `${where} ${p.path}: ${p.message}`;
}

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/** Renders a path the way users read it: `services.web.volumes[0]`, `labels["com.example.team"]`. */
export function formatPath(path: SpecPath): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Describes a value for the `(got ...)` suffix of a message. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return "an empty value";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") {
    return JSON.stringify(shortenedForMessage(value));
  }
  return String(value);
}

/** A 1-based position in the spec file. */
export interface Position {
  line: number;
  column: number;
}

/** Collects problems as the pipeline runs; nothing in the parser throws for bad input. */
export class ProblemList {
  readonly errors: SpecProblem[] = [];
  readonly warnings: SpecProblem[] = [];

  constructor(readonly file: string) {}

  add(severity: SpecProblem["severity"], at: Position, path: SpecPath, message: string): void {
    const problem: SpecProblem = {
      severity,
      file: this.file,
      line: at.line,
      column: at.column,
      path: formatPath(path),
      message,
    };
    (severity === "error" ? this.errors : this.warnings).push(problem);
  }

  get hasErrors(): boolean {
    return this.errors.length > 0;
  }
}

/** Sorts problems by where they are in the file, so users read them top to bottom. */
export function byPosition(a: SpecProblem, b: SpecProblem): number {
  return a.line - b.line || a.column - b.column;
}
