import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * Which Debian mirror this host's apt uses, so debootstrap fetches from the
 * same place (a local mirror or proxy on an offline host). Both formats apt
 * reads are understood: one-line `sources.list` entries
 * (`deb [options] URI SUITE COMPONENT...`) and deb822 `.sources` stanzas
 * (`Types:`, `URIs:`, `Suites:`, `Enabled:`), see sources.list(5).
 */

export const DEFAULT_MIRROR = "http://deb.debian.org/debian";

/** One file apt reads its sources from. */
export interface SourcesFile {
  path: string;
  text: string;
}

/** A `deb` source: where, and which suites it serves. */
export interface AptSource {
  uri: string;
  suites: string[];
}

/** The `deb` (binary) sources of one file, in order; `deb-src` and disabled stanzas left out. */
export function parseSources(file: SourcesFile): AptSource[] {
  return file.path.endsWith(".sources") ? parseDeb822(file.text) : parseOneLine(file.text);
}

function parseOneLine(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line.startsWith("deb ") && !line.startsWith("deb\t")) continue;
    // options in brackets may hold spaces: `deb [arch=amd64 signed-by=/k.gpg] URI ...`
    const rest = line
      .slice(3)
      .trim()
      .replace(/^\[[^\]]*\]\s*/, "");
    const [uri, suite] = rest.split(/\s+/);
    if (uri && suite) sources.push({ uri, suites: [suite] });
  }
  return sources;
}

function parseDeb822(text: string): AptSource[] {
  const sources: AptSource[] = [];
  const stanzas = text.split(/\n\s*\n/);
  for (const stanza of stanzas) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of stanza.split("\n")) {
      if (line.startsWith("#")) continue;
      if (/^\s/.test(line) && last !== undefined) {
        fields.set(last, `${fields.get(last) ?? ""} ${line.trim()}`);
        continue;
      }
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      last = line.slice(0, colon).trim().toLowerCase();
      fields.set(last, line.slice(colon + 1).trim());
    }
    const words = (key: string) => (fields.get(key) ?? "").split(/\s+/).filter(Boolean);
    if (!words("types").includes("deb")) continue;
    if (/^(no|false|0)$/i.test(fields.get("enabled") ?? "")) continue;
    for (const uri of words("uris")) sources.push({ uri, suites: words("suites") });
  }
  return sources;
}

/** The first http(s) source that serves `suite` exactly (not `suite-security`), else the default mirror. */
export function mirrorForSuite(files: SourcesFile[], suite: string): string {
  for (const file of files) {
    for (const source of parseSources(file)) {
      if (source.suites.includes(suite) && /^https?:\/\//.test(source.uri)) {
        return source.uri.replace(/\/+$/, "");
      }
    }
  }
  return DEFAULT_MIRROR;
}

/**
 * The files apt reads, in apt's order: /etc/apt/sources.list, then
 * sources.list.d/*.list and *.sources sorted by name (other names, such as
 * `*.disabled`, apt ignores and so does this).
 */
export async function readAptSources(etcApt = "/etc/apt"): Promise<SourcesFile[]> {
  const files: SourcesFile[] = [];
  const read = async (path: string) => {
    try {
      files.push({ path, text: await readFile(path, "utf8") });
    } catch {
      // absent or unreadable: apt would skip it too
    }
  };
  await read(join(etcApt, "sources.list"));
  const dir = join(etcApt, "sources.list.d");
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.sort()) {
    if (/^[\w.-]+\.(list|sources)$/.test(name)) await read(join(dir, name));
  }
  return files;
}

/** This host's mirror for `suite`: from apt's sources, else deb.debian.org. */
export async function detectMirror(suite: string, etcApt = "/etc/apt"): Promise<string> {
  return mirrorForSuite(await readAptSources(etcApt), suite);
}
