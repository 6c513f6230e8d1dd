// The `.env` format as Compose reads it: `KEY=value` lines, `#` comments,
// an optional `export ` prefix, single quotes taken literally, double quotes
// with \n \t \" \\ escapes (both may span lines), and unquoted values trimmed
// with a ` #` comment removed. Values are taken as written: no `${VAR}`
// expansion inside the file. Lines that are not assignments are skipped.

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\", $: "$" };

/** Parses the text of a `.env` or `env_file` file into variables; later assignments win. */
export function parseDotEnv(text: string): Record<string, string> {
  return readDotEnv(text).vars;
}

/** A line of an env file that is not an assignment: where it is and why, never its text (it may hold a secret). */
export interface DotEnvProblem {
  line: number;
  message: string;
}

/** Parses an env file into variables, and says which lines were skipped and why, quoting no value. */
export function readDotEnv(text: string): {
  vars: Record<string, string>;
  problems: DotEnvProblem[];
} {
  const vars: Record<string, string> = {};
  const problems: DotEnvProblem[] = [];
  const lineOf = (offset: number) => src.slice(0, offset).split("\n").length;
  const src = text.replace(/\r\n?/g, "\n");
  let i = 0;
  while (i < src.length) {
    const eol = indexOrEnd(src, "\n", i);
    const line = src.slice(i, eol);
    const trimmed = line.trimStart();
    const eq = trimmed.indexOf("=");
    if (trimmed === "" || trimmed.startsWith("#")) {
      i = eol + 1;
      continue;
    }
    if (eq < 0) {
      problems.push({
        line: lineOf(i),
        message: "is not a KEY=VALUE assignment, so it is skipped",
      });
      i = eol + 1;
      continue;
    }
    const lineNumber = lineOf(i);
    const key = trimmed
      .slice(0, eq)
      .replace(/^export\s+/, "")
      .trim();
    // Offset of the value's first character in `src`.
    let v = i + (line.length - trimmed.length) + eq + 1;
    while (src[v] === " " || src[v] === "\t") v++;
    const quote = src[v];
    let value: string;
    if (quote === "'" || quote === '"') {
      const parsed = readQuoted(src, v + 1, quote);
      if (parsed === undefined) {
        // No closing quote: read the rest of the line as written, as Compose does.
        value = src.slice(v, eol).trim();
        i = eol + 1;
      } else {
        value = parsed.value;
        i = indexOrEnd(src, "\n", parsed.end) + 1;
      }
    } else {
      value = src
        .slice(v, eol)
        .replace(/(^|\s)#.*$/, "")
        .trim();
      i = eol + 1;
    }
    if (KEY.test(key)) vars[key] = value;
    else {
      // The text before = may be anything (a pasted secret); only a plausible name is shown.
      const shown = /^[\w.-]{1,64}$/.test(key) ? ` ${JSON.stringify(key)}` : "";
      problems.push({
        line: lineNumber,
        message: `the name before =${shown} is not a variable name (letters, digits, _ . -, not starting with a digit), so the line is skipped`,
      });
    }
  }
  return { vars, problems };
}

function indexOrEnd(s: string, needle: string, from: number): number {
  const at = s.indexOf(needle, from);
  return at < 0 ? s.length : at;
}

function readQuoted(
  src: string,
  from: number,
  quote: string,
): { value: string; end: number } | undefined {
  let value = "";
  for (let i = from; i < src.length; i++) {
    const c = src[i] as string;
    if (c === quote) return { value, end: i + 1 };
    if (quote === '"' && c === "\\" && i + 1 < src.length) {
      const next = src[i + 1] as string;
      value += ESCAPES[next] ?? `\\${next}`;
      i++;
      continue;
    }
    value += c;
  }
  return undefined;
}
