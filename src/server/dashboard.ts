import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";
import { NotFoundError } from "../errors.js";

/**
 * The dashboard's static files: `dashboard/` at the package root. This file
 * is `src/server/dashboard.ts` under tests and `dist/server/dashboard.js`
 * when the server runs, two levels below the root either way.
 */
export const DASHBOARD_ROOT = fileURLToPath(new URL("../../dashboard/", import.meta.url));

/** Where the dashboard's assets are served; the page itself is at `/`. */
export const DASHBOARD_PREFIX = "/dashboard/";

/** The file types the dashboard consists of; anything else in the folder is not served. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/**
 * The page holds no data and runs only its own files: scripts, styles and
 * API calls from this origin, no inline script or style, no framing
 * (CSP Level 3, https://www.w3.org/TR/CSP3/).
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

export interface DashboardOptions {
  /** The folder with index.html and its assets; DASHBOARD_ROOT unless a test hands in another. */
  root?: string;
}

/**
 * The files the dashboard may serve, by exact name: the regular files with a
 * known type directly in `root`. A request names one of them or gets a 404,
 * so no path (`..`, an encoded slash, a symlink added later) reaches the
 * file system. An absent folder serves nothing rather than failing the server.
 */
export function dashboardFiles(root: string): Map<string, string> {
  const files = new Map<string, string>();
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return files;
  }
  for (const name of names) {
    const type = CONTENT_TYPES[extname(name)];
    if (type && statSync(join(root, name)).isFile()) files.set(name, type);
  }
  return files;
}

/** `GET /` (the page, no token: it holds no data) and `GET /dashboard/FILE` (its assets). */
export function registerDashboardRoutes(
  app: FastifyInstance,
  options: DashboardOptions = {},
): void {
  const root = options.root ?? DASHBOARD_ROOT;
  const files = dashboardFiles(root);

  const send = (reply: FastifyReply, name: string) => {
    const type = files.get(name);
    if (!type) {
      throw new NotFoundError(
        `the dashboard has no file named ${JSON.stringify(name)}`,
        files.has("index.html")
          ? "open the dashboard at /"
          : `the dashboard's files are missing from ${root}; reinstall Skiff from a checkout`,
      );
    }
    // Read per request: the files are small, and an upgrade in place shows at once.
    return reply
      .type(type)
      .header("content-security-policy", DASHBOARD_CSP)
      .header("x-content-type-options", "nosniff")
      .header("referrer-policy", "no-referrer")
      .header("cache-control", "no-cache")
      .send(readFileSync(join(root, name)));
  };

  app.get("/", { config: { public: true } }, async (_request, reply) => send(reply, "index.html"));
  app.get<{ Params: { file: string } }>(
    `${DASHBOARD_PREFIX}:file`,
    { config: { public: true } },
    async (request, reply) => send(reply, request.params.file),
  );
}
