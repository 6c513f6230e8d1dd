// Splits the string form of `command:` / `entrypoint:` into arguments the way
// Compose does (compose-go uses go-shellwords): whitespace separates words,
// quotes group them, backslash escapes. There is no shell: no variables, no
// globbing, no `&&`. go-shellwords silently stops at the first `&&`, `|` or
// `;`, dropping the rest of the command; Skiff refuses such a command instead
// and says how to run it through a shell.

/** The outcome of splitting a command string. */
export type SplitResult = { ok: true; argv: string[] } | { ok: false; error: string };

const OPERATORS = new Set([";", "&", "|", "<", ">", "`", "(", ")"]);

/** Splits a command string into argv like Compose; refuses shell operators it would silently drop. */
export function splitCommand(text: string): SplitResult {
  const argv: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      if (inWord) argv.push(word);
      word = "";
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === "\\") {
      if (i + 1 < text.length) word += text[++i];
      continue;
    }
    if (c === "'") {
      const close = text.indexOf("'", i + 1);
      if (close < 0) return { ok: false, error: `unterminated ' quote in ${JSON.stringify(text)}` };
      word += text.slice(i + 1, close);
      i = close;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        const d = text[j] as string;
        const next = text[j + 1];
        if (d === "\\" && next !== undefined && '"\\$`\n'.includes(next)) {
          word += next;
          j++;
        } else {
          word += d;
        }
      }
      if (j >= text.length) {
        return { ok: false, error: `unterminated " quote in ${JSON.stringify(text)}` };
      }
      i = j;
      continue;
    }
    if (OPERATORS.has(c)) {
      const op = /^(?:&&|\|\||>>|[;&|<>`()])/.exec(text.slice(i))?.[0] ?? c;
      return {
        ok: false,
        error: `\`${op}\` needs a shell, and the string form of a command runs without one (as in Compose); write it as a list: ["sh", "-c", ${JSON.stringify(text)}]`,
      };
    }
    word += c;
  }
  if (inWord) argv.push(word);
  return { ok: true, argv };
}
