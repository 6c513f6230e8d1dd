import { posix } from "node:path";
import { ValidationError } from "../errors.js";

/**
 * `.dockerignore` as the Docker CLI reads it, so a context sent by Skiff holds
 * exactly what `docker build` would send. Sources: moby/patternmatcher
 * (`ignorefile.ReadAll` for the file, `patternmatcher.go` for matching) and
 * docker/cli `build.TrimBuildFilesFromExcludes`:
 *
 * - one pattern per line; lines starting with `#` are comments; blank lines
 *   are skipped; a leading `!` makes an exception; patterns are cleaned
 *   (`./a/../b` is `b`) and a leading `/` is dropped;
 * - `*` matches within one path component, `?` one character, `[...]` a
 *   class, `\` escapes, and `**` any number of components (even none);
 * - a pattern that matches a directory matches everything under it;
 * - the last pattern that matches decides.
 */

/** One compiled pattern. */
interface Pattern {
  /** The cleaned pattern, without its `!`. */
  text: string;
  exception: boolean;
  match(path: string): boolean;
}

/** The patterns of a `.dockerignore` file, in order (`!` kept), as the Docker CLI reads them. */
export function parseDockerignore(text: string): string[] {
  const patterns: string[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (const line of lines) {
    if (line.startsWith("#")) continue;
    let pattern = line.trim();
    if (pattern === "") continue;
    const exception = pattern.startsWith("!");
    if (exception) pattern = pattern.slice(1).trim();
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith("/")) pattern = pattern.slice(1);
    }
    patterns.push(exception ? `!${pattern}` : pattern);
  }
  return patterns;
}

/** Go's filepath.Clean for slash paths: no `.`, no `x/..`, no doubled or trailing slash. */
export function cleanPath(path: string): string {
  if (path === "") return ".";
  const normalised = posix.normalize(path);
  return normalised.length > 1 && normalised.endsWith("/") ? normalised.slice(0, -1) : normalised;
}

/** Decides which context paths (slash-separated, relative to the context) are left out. */
export class IgnoreMatcher {
  readonly #patterns: Pattern[];

  /** Throws a ValidationError naming the pattern when one is not a valid pattern. */
  constructor(patterns: string[]) {
    this.#patterns = [];
    for (const raw of patterns) {
      let text = raw.trim();
      if (text === "") continue;
      text = cleanPath(text);
      const exception = text.startsWith("!");
      if (exception) {
        if (text.length === 1) {
          throw new ValidationError(
            '.dockerignore: illegal exception pattern "!"',
            "an exception names what to keep, e.g. !README.md",
          );
        }
        text = text.slice(1);
      }
      this.#patterns.push({ text, exception, match: compilePattern(text) });
    }
  }

  /** Whether any pattern is an exception (`!...`). */
  get hasExceptions(): boolean {
    return this.#patterns.some((pattern) => pattern.exception);
  }

  /**
   * Whether `path` is left out: it, or a directory above it, matches a
   * pattern, and no later exception matches it (patternmatcher's
   * MatchesOrParentMatches).
   */
  excludes(path: string): boolean {
    const parents = posix.dirname(path);
    const parentDirs = parents === "." ? [] : parents.split("/");
    let matched = false;
    for (const pattern of this.#patterns) {
      // An inclusion cannot change an already-excluded path, nor an exception an included one.
      if (pattern.exception !== matched) continue;
      let match = pattern.match(path);
      for (let i = 0; !match && i < parentDirs.length; i++) {
        match = pattern.match(parentDirs.slice(0, i + 1).join("/"));
      }
      if (match) matched = !pattern.exception;
    }
    return matched;
  }

  /**
   * Whether an excluded directory must still be walked because an exception
   * may keep something inside it: an exception pattern starts with the
   * directory's path (docker/docker pkg/archive TarWithOptions does the same,
   * so `!**\/keep` does not reach into an excluded directory there either).
   */
  mayKeepInside(dir: string): boolean {
    const prefix = `${dir}/`;
    return this.#patterns.some(
      (pattern) => pattern.exception && `${pattern.text}/`.startsWith(prefix),
    );
  }
}

/** Characters that are special in a regexp but literal in a Go filepath pattern. */
const ESCAPE = new Set([".", "+", "(", ")", "|", "{", "}", "$"]);

/**
 * A pattern as patternmatcher compiles it: an exact, prefix (`a/**`) or
 * suffix (`**\/a`) comparison when it can be, else a regexp.
 */
export function compilePattern(pattern: string): (path: string) => boolean {
  type Kind = "exact" | "prefix" | "suffix" | "regexp";
  let kind: Kind = "exact";
  let source = "^";
  const chars = [...pattern];
  for (let i = 0, index = 0; i < chars.length; i++, index++) {
    const ch = chars[i] as string;
    if (ch === "*") {
      if (chars[i + 1] === "*") {
        i++;
        if (chars[i + 1] === "/") i++; // `**/` is `**`
        if (i + 1 >= chars.length) {
          // `**` at the end accepts everything, as in .gitignore.
          if (kind === "exact") kind = "prefix";
          else {
            source += ".*";
            kind = "regexp";
          }
        } else {
          source += "(.*/)?";
          kind = "regexp";
        }
        if (index === 0) kind = "suffix";
      } else {
        source += "[^/]*";
        kind = "regexp";
      }
    } else if (ch === "?") {
      source += "[^/]";
      kind = "regexp";
    } else if (ESCAPE.has(ch)) {
      source += `\\${ch}`;
    } else if (ch === "\\") {
      const next = chars[i + 1];
      if (next === undefined) throw invalidPattern(pattern);
      source += `\\${next}`;
      i++;
      kind = "regexp";
    } else if (ch === "[" || ch === "]") {
      source += ch;
      kind = "regexp";
    } else {
      source += ch;
    }
  }

  switch (kind) {
    case "exact":
      return (path) => path === pattern;
    case "prefix": {
      const prefix = pattern.slice(0, -2);
      return (path) => path.startsWith(prefix);
    }
    case "suffix": {
      const suffix = pattern.slice(2);
      // `**/foo` also matches `foo` itself.
      return (path) =>
        path.endsWith(suffix) || (suffix.startsWith("/") && path === suffix.slice(1));
    }
    case "regexp": {
      let regexp: RegExp;
      try {
        regexp = new RegExp(`${source}$`);
      } catch {
        throw invalidPattern(pattern);
      }
      return (path) => regexp.test(path);
    }
  }
}

function invalidPattern(pattern: string): ValidationError {
  return new ValidationError(
    `.dockerignore: ${JSON.stringify(pattern)} is not a valid pattern`,
    "check its brackets and backslashes; patterns follow Go's filepath.Match, plus ** for any number of directories",
  );
}

/**
 * The exclude list the Docker CLI sends with: the `.dockerignore` patterns,
 * plus exceptions for `.dockerignore` and the Dockerfile when a pattern would
 * leave them out; the daemon needs both (docker/cli TrimBuildFilesFromExcludes).
 */
export function withBuildFilesKept(patterns: string[], dockerfile: string): string[] {
  const kept = [...patterns];
  if (new IgnoreMatcher(kept).excludes(".dockerignore")) kept.push("!.dockerignore");
  if (new IgnoreMatcher(kept).excludes(dockerfile)) kept.push(`!${dockerfile}`);
  return kept;
}
