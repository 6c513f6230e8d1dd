// Sorts every mapping key of the file into four kinds before validation:
// honoured (in the schema: kept), Compose keys Skiff ignores (warning,
// removed), `x-*` extension keys (removed silently, as the Compose
// Specification says), and anything else (error with "did you mean").
// The walk follows the zod schema itself, so a key added to the schema is
// honoured everywhere at once.

import type { z } from "zod";
import type { SourceMap } from "./locate.js";
import type { ProblemList, SpecPath } from "./problem.js";
import { ignoredKeysOf, refusedKeysOf } from "./schema.js";

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  options?: z.ZodType[];
  element?: z.ZodType;
  valueType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  getter?: () => z.ZodType;
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** Whether a YAML value is a mapping (a plain object, not a list or null). */
export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** zod wrapper types that only change optionality or defaults, never the shape; unwrapped when walking a schema. */
export const WRAPPERS = new Set([
  "optional",
  "nullable",
  "default",
  "prefault",
  "readonly",
  "catch",
  "nonoptional",
]);

/** Follows wrappers, pipes and unions to the schema that applies to `value`'s shape (mapping, list or other). */
export function schemaFor(schema: z.ZodType, value: unknown): z.ZodType | undefined {
  let s: z.ZodType | undefined = schema;
  for (let depth = 0; s && depth < 20; depth++) {
    const def = defOf(s);
    if (WRAPPERS.has(def.type)) s = def.innerType;
    else if (def.type === "pipe")
      s = def.in && defOf(def.in).type === "transform" ? def.out : def.in;
    else if (def.type === "lazy") s = def.getter?.();
    else if (def.type === "union") {
      s = def.options?.find((option) => {
        const type = schemaFor(option, value);
        if (!type) return false;
        const t = defOf(type).type;
        return isMapping(value)
          ? t === "object" || t === "record"
          : Array.isArray(value) && t === "array";
      });
    } else return s;
  }
  return s;
}

/** Removes ignored and extension keys from `value` (in place), reporting ignored and unknown keys. */
export function checkKeys(
  schema: z.ZodType,
  value: unknown,
  path: SpecPath,
  map: SourceMap,
  problems: ProblemList,
): void {
  const s = schemaFor(schema, value);
  if (!s) return;
  const def = defOf(s);
  if (def.type === "array" && Array.isArray(value) && def.element) {
    value.forEach((item, i) => {
      checkKeys(def.element as z.ZodType, item, [...path, i], map, problems);
    });
  } else if (def.type === "record" && isMapping(value) && def.valueType) {
    for (const [key, item] of Object.entries(value)) {
      checkKeys(def.valueType, item, [...path, key], map, problems);
    }
  } else if (def.type === "object" && isMapping(value) && def.shape) {
    const shape = def.shape;
    const ignored = ignoredKeysOf(s) ?? {};
    const refused = refusedKeysOf(s) ?? {};
    for (const key of Object.keys(value)) {
      const at = [...path, key];
      if (Object.hasOwn(shape, key)) {
        checkKeys(shape[key] as z.ZodType, value[key], at, map, problems);
        continue;
      }
      delete value[key];
      if (Object.hasOwn(refused, key)) {
        problems.add("warning", map.keyAt(at), at, `\`${key}\` is never granted: ${refused[key]}`);
      } else if (Object.hasOwn(ignored, key)) {
        const advice = ignored[key];
        problems.add(
          "warning",
          map.keyAt(at),
          at,
          `\`${key}\` is a Compose key Skiff ignores${advice ? `: ${advice}` : ""}`,
        );
      } else if (key === "x-skiff") {
        problems.add(
          "warning",
          map.keyAt(at),
          at,
          "x-skiff is read only at the top level and directly under a service; it is ignored here",
        );
      } else if (!key.startsWith("x-")) {
        problems.add(
          "error",
          map.keyAt(at),
          at,
          unknownKey(key, Object.keys(shape), [...Object.keys(ignored), ...Object.keys(refused)]),
        );
      }
    }
  }
}

function unknownKey(key: string, honoured: string[], ignored: string[]): string {
  const guess = closest(key, [...honoured, ...ignored]);
  if (guess) return `unknown key \`${key}\`; did you mean \`${guess}\`?`;
  const valid = honoured.filter((k) => k !== "x-skiff");
  return `unknown key \`${key}\`; valid keys here: ${valid.join(", ")}${honoured.includes("x-skiff") ? ", x-skiff" : ""} (keys starting with x- are ignored)`;
}

/** The candidate nearest to `word`, if it is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  return bestDistance <= limit ? best : undefined;
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions
// (`imgae` → `image` is one edit), the commonest typo.
function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] as number[];
    const prev = d[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, ((d[i - 2] as number[])[j - 2] as number) + 1);
      }
      row[j] = v;
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}
