import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { EdgeRuntimeApi } from "./runtime-api.js";

/** The HAProxy backend name that serves one service of an app. */
export function backendName(app: string, service: string): string {
  return `app_${app}__${service}`;
}

/** Parses a map file: `host backend` per line, `#` comments allowed. */
export function parseDomainMap(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith("#")) continue;
    const [host, backend] = trimmed.split(/\s+/);
    if (host && backend) entries.set(host, backend);
  }
  return entries;
}

export function renderDomainMap(entries: Map<string, string>): string {
  return [...entries].map(([host, backend]) => `${host} ${backend}\n`).join("");
}

/**
 * Removes every domain that routes to one of the app's backends, both from
 * the running edge (runtime API `del map`, no reload) and from the map file
 * that the next start or reload reads. Returns the removed hosts.
 *
 * @deprecated EdgeRouter owns the map file and renders it from its desired
 * state, which would bring these domains back; use `router.removeApp(app)`,
 * which also takes the app's servers and backends away.
 */
export async function removeAppDomains(
  mapFile: string,
  runtime: EdgeRuntimeApi,
  app: string,
): Promise<string[]> {
  if (!existsSync(mapFile)) return [];
  const entries = parseDomainMap(readFileSync(mapFile, "utf8"));
  const prefix = backendName(app, "");
  const removed = [...entries].filter(([, backend]) => backend.startsWith(prefix)).map(([h]) => h);
  if (removed.length === 0) return [];
  for (const host of removed) entries.delete(host);
  writeFileSync(mapFile, renderDomainMap(entries));
  for (const host of removed) await runtime.command(`del map ${mapFile} ${host}`);
  return removed;
}
