// Compose variable interpolation, as in the Compose Specification's
// "Interpolation" section: `$VAR`, `${VAR}`, `${VAR:-default}`,
// `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`,
// `${VAR+alt}`, and `$$` for a literal `$`. Defaults and alternatives may
// themselves hold interpolations; they are only evaluated when used, so an
// unused default never warns.

/** The outcome of interpolating one string. */
export type InterpolationResult =
  | {
      ok: true;
      value: string;
      /** Variables used without a default that were not set (Compose warns and uses ""). */
      unset: string[];
    }
  | { ok: false; error: string };

class InterpolationError extends Error {}

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;

/** Interpolates `${...}` and `$VAR` in `text` from `env`; never throws. */
export function interpolate(
  text: string,
  env: Readonly<Record<string, string>>,
): InterpolationResult {
  const unset: string[] = [];
  const has = (name: string) => Object.hasOwn(env, name);
  const get = (name: string) => (has(name) ? (env[name] as string) : undefined);

  // Reads from `i` up to the end of the text, or up to the `}` closing a
  // `${...}` when `nested`. With `evaluate` false it only checks the syntax.
  const read = (i: number, nested: boolean, evaluate: boolean): { value: string; end: number } => {
    let out = "";
    while (i < text.length) {
      const c = text[i];
      if (nested && c === "}") return { value: out, end: i };
      if (c !== "$") {
        out += c;
        i++;
        continue;
      }
      const next = text[i + 1];
      if (next === "$") {
        out += "$";
        i += 2;
      } else if (next === "{") {
        const braced = readBraced(i, evaluate);
        out += braced.value;
        i = braced.end;
      } else {
        NAME.lastIndex = i + 1;
        const name = NAME.exec(text)?.[0];
        if (name === undefined) {
          throw new InterpolationError(
            `invalid interpolation at "${text.slice(i, i + 10)}": \`$\` must be followed by a variable name or \`{\`; write \`$$\` for a literal \`$\``,
          );
        }
        if (evaluate) out += lookup(name);
        i += 1 + name.length;
      }
    }
    if (nested) throw new InterpolationError(unterminated(text));
    return { value: out, end: i };
  };

  const lookup = (name: string): string => {
    const value = get(name);
    if (value === undefined) {
      unset.push(name);
      return "";
    }
    return value;
  };

  // `start` is the index of the `$` of `${`; returns the index after the closing `}`.
  const readBraced = (start: number, evaluate: boolean): { value: string; end: number } => {
    NAME.lastIndex = start + 2;
    const name = NAME.exec(text)?.[0];
    const close = text.indexOf("}", start);
    const shown = close < 0 ? text.slice(start) : text.slice(start, close + 1);
    if (name === undefined) {
      if (close < 0) throw new InterpolationError(unterminated(text));
      throw new InterpolationError(
        `invalid interpolation "${shown}": expected a variable name after \`\${\`; write \`$$\` for a literal \`$\``,
      );
    }
    let i = start + 2 + name.length;
    if (text[i] === "}") {
      return { value: evaluate ? lookup(name) : "", end: i + 1 };
    }
    const colon = text[i] === ":";
    if (colon) i++;
    const op = text[i];
    if (op !== "-" && op !== "?" && op !== "+") {
      if (i >= text.length) throw new InterpolationError(unterminated(text));
      throw new InterpolationError(
        `invalid interpolation "${shown}": after the variable name use \`}\`, \`:-\`, \`-\`, \`:?\`, \`?\`, \`:+\` or \`+\``,
      );
    }
    const value = get(name);
    // With a colon, an empty value counts as unset (POSIX shell semantics).
    const isSet = value !== undefined && (!colon || value !== "");
    const useWord = op === "-" ? !isSet : op === "+" ? isSet : !isSet;
    const word = read(i + 1, true, evaluate && useWord);
    const end = word.end + 1;
    if (!evaluate) return { value: "", end };
    if (op === "-") return { value: isSet ? (value as string) : word.value, end };
    if (op === "+") return { value: isSet ? word.value : "", end };
    if (!isSet) {
      const why = word.value === "" ? "" : `: ${word.value}`;
      throw new InterpolationError(
        `required variable ${name} is ${value === undefined ? "not set" : "empty"}${why}; set it in the app's config or .env`,
      );
    }
    return { value: value as string, end };
  };

  try {
    return { ok: true, value: read(0, false, true).value, unset };
  } catch (e) {
    if (e instanceof InterpolationError) return { ok: false, error: e.message };
    throw e;
  }
}

function unterminated(text: string): string {
  return `unterminated \`\${\` in "${text}": close it with \`}\`, or write \`$$\` for a literal \`$\``;
}
