// Runs a zod schema over one part of the spec and turns its issues into
// located problems. zod reports a path; the SourceMap turns it into the
// line and column of the value (or of its key when the value is missing).

import type { z } from "zod";
import type { SourceMap } from "./locate.js";
import { describeValue, type ProblemList, type SpecPath } from "./problem.js";

/** Paths already reported by an earlier stage (interpolation), so one mistake gives one error. */
export type Reported = ReadonlySet<string>;

/** Identifies a path in a `Reported` set. */
export function reportedId(path: SpecPath): string {
  return path.join("\u0000");
}

/** Validates `value` (found at `path`) with `schema`; returns the parsed data, or undefined after reporting every issue. */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  path: SpecPath,
  ctx: { map: SourceMap; problems: ProblemList; reported: Reported },
): z.output<S> | undefined {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  report(result.error.issues, value, path, ctx);
  return undefined;
}

// `root` is the value at `base`; issue paths are relative to it.
function report(
  issues: readonly z.core.$ZodIssue[],
  root: unknown,
  base: SpecPath,
  ctx: { map: SourceMap; problems: ProblemList; reported: Reported },
): void {
  for (const issue of issues) {
    const relative = issue.path.filter((p): p is string | number => typeof p !== "symbol");
    const path = [...base, ...relative];
    if (isReported(path, ctx.reported)) continue;
    if (issue.code === "invalid_union") {
      // An option whose only complaint is "wrong type at the root" does not
      // fit the value's shape at all; if exactly one option does, its
      // complaints are the ones worth showing (`volumes[0].target` rather
      // than "must be a string or a mapping").
      const fitting = issue.errors.filter((errs) => !errs.every((e) => isShapeMismatch(e)));
      if (fitting.length === 1) {
        report(fitting[0] as z.core.$ZodIssue[], valueAt(root, relative), path, ctx);
        continue;
      }
    }
    if (issue.code === "unrecognized_keys") {
      // The key checker removes unknown keys before validation; this is a safety net.
      for (const key of issue.keys) {
        ctx.problems.add(
          "error",
          ctx.map.keyAt([...path, key]),
          [...path, key],
          `unknown key \`${key}\``,
        );
      }
      continue;
    }
    const value = valueAt(root, relative);
    ctx.problems.add("error", ctx.map.at(path), path, message(issue, value));
  }
}

function isShapeMismatch(issue: z.core.$ZodIssue): boolean {
  return (
    issue.path.length === 0 && (issue.code === "invalid_type" || issue.code === "invalid_union")
  );
}

function isReported(path: SpecPath, reported: Reported): boolean {
  for (let n = path.length; n > 0; n--) {
    if (reported.has(reportedId(path.slice(0, n)))) return true;
  }
  return false;
}

function message(issue: z.core.$ZodIssue, value: unknown): string {
  const text = issue.message;
  if (value === undefined) {
    return text.startsWith("must be ")
      ? `is required: set it to ${text.slice(8)}`
      : `is required: ${text}`;
  }
  const params =
    issue.code === "custom" ? (issue.params as { showsValue?: boolean } | undefined) : undefined;
  if (params?.showsValue) return text;
  return `${text} (got ${describeValue(value)})`;
}

function valueAt(root: unknown, path: readonly (string | number)[]): unknown {
  let v: unknown = root;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}
