/**
 * The images a Dockerfile builds FROM, as far as they can be known without
 * building: each `FROM` that names an image rather than an earlier stage or
 * `scratch`. ARGs declared before the first FROM (with their defaults,
 * overridden by the build's args) are substituted, as BuildKit does. A
 * reference that still holds a variable, or a Dockerfile that cannot be
 * read this way, gives `undefined`: the caller must then assume anything
 * may have changed.
 */
export function baseImagesOf(
  dockerfile: string,
  args: Readonly<Record<string, string>> = {},
): string[] | undefined {
  const globalArgs: Record<string, string> = {};
  const stages = new Set<string>();
  const bases: string[] = [];
  let seenFrom = false;
  for (const instruction of logicalLines(dockerfile)) {
    const [keyword = "", ...rest] = instruction.split(/\s+/);
    const upper = keyword.toUpperCase();
    if (upper === "ARG" && !seenFrom) {
      for (const declaration of rest) {
        const eq = declaration.indexOf("=");
        const name = eq < 0 ? declaration : declaration.slice(0, eq);
        const fallback = eq < 0 ? undefined : unquote(declaration.slice(eq + 1));
        const value = args[name] ?? fallback;
        if (value !== undefined) globalArgs[name] = value;
      }
      continue;
    }
    if (upper !== "FROM") continue;
    seenFrom = true;
    const words = rest.filter((word) => !word.startsWith("--"));
    const image = words[0];
    if (image === undefined) return undefined;
    const resolved = substitute(image, globalArgs);
    if (resolved === undefined) return undefined;
    if (words[1]?.toUpperCase() === "AS" && words[2]) stages.add(words[2].toLowerCase());
    if (resolved.toLowerCase() === "scratch" || stages.has(resolved.toLowerCase())) continue;
    if (!bases.includes(resolved)) bases.push(resolved);
  }
  return seenFrom ? bases : undefined;
}

/** Instructions with comments dropped and `\` continuations joined. */
function logicalLines(text: string): string[] {
  const lines: string[] = [];
  let current = "";
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (current === "" && (line === "" || line.startsWith("#"))) continue;
    if (line.endsWith("\\")) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    lines.push((current + line).trim());
    current = "";
  }
  if (current.trim()) lines.push(current.trim());
  return lines;
}

/** `$NAME` and `${NAME}` replaced; undefined when one has no value (or uses a modifier). */
function substitute(text: string, values: Record<string, string>): string | undefined {
  let unresolved = false;
  const result = text.replace(/\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, braced, bare) => {
    const name = (braced ?? bare) as string;
    const value = values[name];
    if (value === undefined) unresolved = true;
    return value ?? "";
  });
  return unresolved ? undefined : result;
}

function unquote(value: string): string {
  const quoted = /^(["'])(.*)\1$/.exec(value);
  return quoted ? (quoted[2] as string) : value;
}
