import type { Principal, TokenScope } from "../state/tokens.js";

/**
 * Which token may call which route. One table for the whole API, so the
 * policy reads in one place: a route not named here needs an admin token.
 * A route under /api/v1/apps/:name is for that app, and a token bound to
 * another app is refused there.
 *
 * - read: an app's runs (with their logs), releases and ps: what it runs.
 * - deploy: that, plus starting a deploy (an upload, a push) or a
 *   rollback, and cancelling a run. Not its config or secrets, not scale,
 *   restart, webhooks or destroy, not another app, not a platform route.
 * - admin: everything.
 */
const ROUTES: readonly { method: string; url: string; scope: TokenScope }[] = [
  { method: "GET", url: "/api/v1/apps/:name", scope: "read" },
  { method: "GET", url: "/api/v1/apps/:name/runs", scope: "read" },
  { method: "GET", url: "/api/v1/apps/:name/runs/:number", scope: "read" },
  { method: "GET", url: "/api/v1/apps/:name/runs/:number/log", scope: "read" },
  { method: "GET", url: "/api/v1/apps/:name/runs/:number/events", scope: "read" },
  { method: "GET", url: "/api/v1/apps/:name/releases", scope: "read" },
  { method: "GET", url: "/api/v1/apps/:name/ps", scope: "read" },
  { method: "POST", url: "/api/v1/apps/:name/deploy", scope: "deploy" },
  { method: "POST", url: "/api/v1/apps/:name/rollback", scope: "deploy" },
  { method: "POST", url: "/api/v1/apps/:name/runs/:number/cancel", scope: "deploy" },
];

const RANK: Record<TokenScope, number> = { read: 0, deploy: 1, admin: 2 };

/** Whether a token of scope `has` may do what `needs` asks. */
export function scopeCovers(has: TokenScope, needs: TokenScope): boolean {
  return RANK[has] >= RANK[needs];
}

/** The scope a route needs: its entry in the table, else admin. */
export function requiredScope(method: string, routePattern: string | undefined): TokenScope {
  const method_ = method === "HEAD" ? "GET" : method;
  return ROUTES.find((r) => r.method === method_ && r.url === routePattern)?.scope ?? "admin";
}

/**
 * Why `principal` may not make this request, or undefined when it may.
 * `app` is the request's app (the route's :name), if it has one.
 */
export function accessProblem(
  principal: Principal,
  needs: TokenScope,
  app: string | undefined,
): string | undefined {
  if (principal.app !== undefined && app !== principal.app) {
    return app === undefined
      ? `the token "${principal.name}" is for the app ${principal.app} and cannot use platform routes`
      : `the token "${principal.name}" is for the app ${principal.app}, not ${app}`;
  }
  if (!scopeCovers(principal.scope, needs)) {
    return `the token "${principal.name}" has the ${principal.scope} scope, and this needs ${needs}`;
  }
  return undefined;
}
