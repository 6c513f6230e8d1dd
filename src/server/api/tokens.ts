import type { FastifyInstance } from "fastify";
import { ConflictError, NotFoundError, ValidationError } from "../../errors.js";
import type { Store } from "../../state/store.js";
import {
  TOKEN_SCOPES,
  type TokenRecord,
  type TokenScope,
  type TokenStore,
} from "../../state/tokens.js";
import { actorOf } from "../actor.js";

export interface TokenRoutesDependencies {
  store: Store;
  tokens: TokenStore;
}

/** `GET /api/v1/tokens`: every named token, never a value. */
export interface TokensAnswer {
  tokens: TokenRecord[];
}

/** `POST /api/v1/tokens` answers 201 with the token's value, the only time it is shown. */
export interface CreatedTokenAnswer extends TokenRecord {
  token: string;
}

/** How long a token lives unless told otherwise. */
export const DEFAULT_TOKEN_LIFETIME = "90d";

const TOKEN_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

/** `90d`, `12h`, `30m` to milliseconds; `never` to undefined. */
export function parseLifetime(text: string): number | undefined {
  if (text === "never") return undefined;
  const match = /^(\d{1,5})([dhm])$/.exec(text);
  if (!match) {
    throw new ValidationError(
      `${JSON.stringify(text.slice(0, 20))} is not a token lifetime`,
      "write it as 90d, 12h or 30m, or never",
    );
  }
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[match[2] as "d" | "h" | "m"];
  const ms = Number(match[1]) * unit;
  if (ms === 0) throw new ValidationError("a token lifetime must be longer than 0");
  return ms;
}

/** Named tokens: list, make (shown once), revoke. Admin only (server/access.ts). */
export function registerTokenRoutes(app: FastifyInstance, deps: TokenRoutesDependencies): void {
  app.get("/api/v1/tokens", async (): Promise<TokensAnswer> => ({ tokens: deps.tokens.list() }));

  app.post<{ Body: unknown }>(
    "/api/v1/tokens",
    async (request, reply): Promise<CreatedTokenAnswer> => {
      const body = tokenBody(request.body);
      if (body.app !== undefined && !deps.store.getApp(body.app)) {
        throw new NotFoundError(`no app named "${body.app}"`, "skiff apps lists the apps");
      }
      if (deps.tokens.get(body.name)) {
        throw new ConflictError(
          `a token named "${body.name}" exists already`,
          `choose another name, or revoke it first: skiff tokens:revoke ${body.name}`,
        );
      }
      const lifetime = parseLifetime(body.expires ?? DEFAULT_TOKEN_LIFETIME);
      const { token, record } = deps.tokens.create({
        name: body.name,
        scope: body.scope,
        ...(body.app !== undefined ? { app: body.app } : {}),
        ...(lifetime !== undefined ? { lifetimeMs: lifetime } : {}),
      });
      deps.store.recordEvent(
        "tokens",
        "created",
        `token ${record.name} (${record.scope}${record.app ? ` for ${record.app}` : ", every app"}${record.expiresAt ? `, expires ${record.expiresAt}` : ", never expires"}) created by ${actorOf(request)}`,
      );
      reply.code(201);
      return { ...record, token };
    },
  );

  app.delete<{ Params: { name: string } }>("/api/v1/tokens/:name", async (request) => {
    const { name } = request.params;
    if (!deps.tokens.revoke(name)) {
      throw new NotFoundError(`no token named "${name}"`, "skiff tokens lists them");
    }
    deps.store.recordEvent("tokens", "revoked", `token ${name} revoked by ${actorOf(request)}`);
    return { revoked: name };
  });
}

function tokenBody(body: unknown): {
  name: string;
  scope: TokenScope;
  app?: string;
  expires?: string;
} {
  const hint = 'send {"name": "ci-shop", "scope": "deploy", "app": "shop", "expires": "90d"}';
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ValidationError("the token must be described by a JSON object", hint);
  }
  const { name, scope, app, expires, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new ValidationError(`unknown field ${unknown[0]}`, hint);
  if (typeof name !== "string" || !TOKEN_NAME.test(name)) {
    throw new ValidationError(
      "a token's name is lowercase letters, digits, ., _ and -, at most 63, starting with a letter or digit",
      hint,
    );
  }
  if (name === "admin" || name.startsWith("webhook:")) {
    throw new ValidationError(`"${name}" names Skiff's own callers in events; choose another name`);
  }
  if (typeof scope !== "string" || !TOKEN_SCOPES.includes(scope as TokenScope)) {
    throw new ValidationError(`the scope must be one of ${TOKEN_SCOPES.join(", ")}`, hint);
  }
  if (app !== undefined && typeof app !== "string")
    throw new ValidationError('"app" must be an app name', hint);
  if (app === undefined && scope !== "admin") {
    throw new ValidationError(
      `a ${scope} token is for one app: name it with --app`,
      "only an admin token may be for every app",
    );
  }
  if (expires !== undefined && typeof expires !== "string") {
    throw new ValidationError('"expires" must be like 90d, 12h, 30m or never', hint);
  }
  return {
    name,
    scope: scope as TokenScope,
    ...(app !== undefined ? { app } : {}),
    ...(expires !== undefined ? { expires } : {}),
  };
}
