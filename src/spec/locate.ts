import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type Pair,
  parseDocument,
  Scalar,
  type YAMLMap,
} from "yaml";
import type { Position, ProblemList, SpecPath } from "./problem.js";

/** Where a value sits in the file: its key (inside a mapping) and the value itself (absent when empty). */
interface Place {
  key?: Position;
  value?: Position;
}

/**
 * Positions of every key and value of the spec, by path. zod reports a path;
 * this turns it back into a line and column. Values reached through an alias
 * point at the anchored text, which is where the user has to change them.
 */
export class SourceMap {
  readonly #places = new Map<string, Place>();
  readonly #root: Position;

  constructor(root: Position) {
    this.#root = root;
  }

  set(path: SpecPath, place: Place): void {
    const id = pathId(path);
    const known = this.#places.get(id);
    this.#places.set(id, { key: known?.key ?? place.key, value: place.value ?? known?.value });
  }

  /** Position of the value at `path`; of its key when the value is empty; of the nearest enclosing key when the path does not exist. */
  at(path: SpecPath): Position {
    const exact = this.#places.get(pathId(path));
    if (exact?.value ?? exact?.key) return (exact.value ?? exact.key) as Position;
    return this.keyAt(path.slice(0, -1));
  }

  /**
   * Gives every place under `from` (itself included) to the same path under
   * `to`, where `to` has none: values a service took from the one it extends
   * are reported where they are written.
   */
  copyMissing(from: SpecPath, to: SpecPath): void {
    const prefix = pathId(from);
    for (const [id, place] of [...this.#places]) {
      if (id !== prefix && !id.startsWith(`${prefix}\u0000`)) continue;
      const target = pathId(to) + id.slice(prefix.length);
      if (!this.#places.has(target)) this.#places.set(target, { ...place });
    }
  }

  /** Moves the places under `from` to `to` (replacing what `to` had), as when a list's items shift. */
  move(from: SpecPath, to: SpecPath): void {
    const prefix = pathId(from);
    const moved: [string, Place][] = [];
    for (const [id, place] of [...this.#places]) {
      if (id !== prefix && !id.startsWith(`${prefix}\u0000`)) continue;
      this.#places.delete(id);
      moved.push([pathId(to) + id.slice(prefix.length), place]);
    }
    for (const [id, place] of moved) this.#places.set(id, place);
  }

  /** Position of the key at `path` (or of the nearest enclosing key). */
  keyAt(path: SpecPath): Position {
    for (let n = path.length; n > 0; n--) {
      const place = this.#places.get(pathId(path.slice(0, n)));
      const pos = place?.key ?? place?.value;
      if (pos) return pos;
    }
    return this.#root;
  }
}

function pathId(path: SpecPath): string {
  return path.join("\u0000");
}

/** The spec as plain data, with the positions to report problems against. */
export interface YamlTree {
  /** undefined when the YAML could not be read; the problems say why. */
  root: unknown;
  map: SourceMap;
}

/** The YAML merge key, `<<: *defaults`, which Compose files use to share settings. */
function isMergeKey(key: unknown): boolean {
  return (
    isScalar(key) &&
    (typeof key.value === "symbol" || (key.value === "<<" && key.type === Scalar.PLAIN))
  );
}

// A file of aliases to aliases can expand exponentially ("billion laughs");
// no real Compose file comes near this many values.
const MAX_VALUES = 100_000;

/** Parses YAML text into plain data plus a SourceMap; syntax errors go to `problems`, located. */
export function readYaml(text: string, problems: ProblemList): YamlTree {
  const lines = new LineCounter();
  // merge: Compose files use `<<: *anchor`. Duplicate keys stay an error
  // (the library's default), as in Compose: one of the two would be lost.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, merge: true });
  const pos = (offset: number): Position => {
    const p = lines.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const map = new SourceMap({ line: 1, column: 1 });
  for (const e of doc.errors) {
    if (e.code === "MULTIPLE_DOCS") {
      const at = pos(e.pos[0]);
      problems.add(
        "error",
        at,
        [],
        `the file holds more than one YAML document (the --- at line ${at.line} starts another), and Compose reads one: merge the documents into one mapping and remove the --- line`,
      );
      continue;
    }
    problems.add("error", pos(e.pos[0]), [], `invalid YAML: ${firstLine(e.message)}`);
  }
  for (const w of doc.warnings) {
    problems.add("warning", pos(w.pos[0]), [], `YAML: ${firstLine(w.message)}`);
  }
  if (doc.errors.length > 0) return { root: undefined, map };

  let count = 0;
  const active = new Set<Node>();
  const start = (node: Node | null | undefined): Position | undefined => {
    if (!node?.range) return undefined;
    // An empty value (`replicas:`) is a null scalar with no source text: report its key instead.
    if (isScalar(node) && node.value === null && node.source === "") return undefined;
    return pos(node.range[0]);
  };

  const walk = (node: unknown, path: (string | number)[]): unknown => {
    if (++count > MAX_VALUES) throw new TooLarge();
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (!target) {
        const at = start(node) ?? { line: 1, column: 1 };
        problems.add(
          "error",
          at,
          [],
          `invalid YAML: alias *${node.source} has no anchor &${node.source} before it`,
        );
        return null;
      }
      if (active.has(target)) return null;
      active.add(target);
      try {
        return walk(target, path);
      } finally {
        active.delete(target);
      }
    }
    if (isScalar(node)) {
      const v = node.value;
      if (v === null || v === undefined) return null;
      if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
      return String(v);
    }
    if (isSeq(node)) {
      return node.items.map((item, i) => {
        map.set([...path, i], { value: start(item as Node) });
        return walk(item, [...path, i]);
      });
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      const merges: Pair[] = [];
      for (const pair of node.items) {
        if (isMergeKey(pair.key)) {
          merges.push(pair);
          continue;
        }
        const key = keyText(pair.key);
        const child = [...path, key];
        map.set(child, { key: start(pair.key as Node), value: start(pair.value as Node) });
        define(out, key, walk(pair.value, child));
      }
      // Explicit keys win over merged ones, and earlier merge sources over later ones (YAML merge spec).
      for (const pair of merges) {
        const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
        for (const source of sources) {
          const resolved = isAlias(source) ? source.resolve(doc) : source;
          if (!isMap(resolved)) continue;
          for (const inner of (resolved as YAMLMap).items) {
            if (!isPair(inner) || isMergeKey(inner.key)) continue;
            const key = keyText(inner.key);
            if (Object.hasOwn(out, key)) continue;
            const child = [...path, key];
            map.set(child, { key: start(inner.key as Node), value: start(inner.value as Node) });
            define(out, key, walk(inner.value, child));
          }
        }
      }
      return out;
    }
    return null;
  };

  map.set([], { value: start(doc.contents as Node) });
  try {
    const root = walk(doc.contents, []);
    return { root: problems.hasErrors ? undefined : root, map };
  } catch (e) {
    if (!(e instanceof TooLarge)) throw e;
    problems.add(
      "error",
      { line: 1, column: 1 },
      [],
      `the file expands to more than ${MAX_VALUES} values through YAML aliases; use fewer nested aliases`,
    );
    return { root: undefined, map };
  }
}

class TooLarge extends Error {}

function keyText(key: unknown): string {
  if (isScalar(key)) return key.value === null || key.value === undefined ? "" : String(key.value);
  return String(key ?? "");
}

// defineProperty so a key named `__proto__` is stored as data, never as the prototype.
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

// The yaml library's messages may carry an excerpt of the file (the lines
// around the error, a caret line) and quote the token they stopped at. An
// error never shows more of a file than the offending token (DESIGN.md,
// Trust), so only the first line is kept and a long quoted token is cut.
const MAX_TOKEN_CHARS = 24;

function firstLine(message: string): string {
  const line = (message.split("\n")[0] ?? message)
    .replace(/ at line \d+, column \d+:?$/, "")
    .trim();
  return line.replace(/"([^"]*)"/g, (quoted, inner: string) =>
    inner.length > MAX_TOKEN_CHARS ? `"${inner.slice(0, MAX_TOKEN_CHARS - 3)}..."` : quoted,
  );
}
