import { Secret } from "../secret.js";

/**
 * Registry authentication as pure functions: reading a 401's challenges,
 * building the token request, reading the token answer. The flow itself
 * (try anonymous, answer the challenge, retry once) lives in `RegistryClient`.
 * References: RFC 9110 §11 (challenge grammar), RFC 7617 (Basic), and
 * distribution docs/spec/auth/token.md (the Bearer token exchange).
 */

/** One challenge from a WWW-Authenticate header; scheme and parameter names lower-cased. */
export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
}

/** The parts of a Bearer challenge the token exchange needs. */
export interface BearerChallenge {
  realm: string;
  service?: string;
  scope?: string;
}

/** A bearer token and when to stop using it (ms since the epoch). */
export interface CachedToken {
  token: Secret;
  expiresAt: number;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;

/**
 * Parses a WWW-Authenticate header into its challenges. A header may hold
 * several (`Basic realm="r", Bearer realm="t",service="s"`) and fetch joins
 * repeated headers with ", ", so challenges and parameters share commas:
 * a token followed by `=` is a parameter, any other token starts a challenge.
 */
export function parseWwwAuthenticate(header: string | null | undefined): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  if (!header) return challenges;
  let pos = 0;
  const skip = (chars: RegExp) => {
    while (pos < header.length && chars.test(header.charAt(pos))) pos++;
  };
  const token = (): string | undefined => {
    TOKEN.lastIndex = pos;
    const match = TOKEN.exec(header);
    if (!match) return undefined;
    pos = TOKEN.lastIndex;
    return match[0];
  };
  const value = (): string => {
    if (header.charAt(pos) !== '"') return token() ?? "";
    let out = "";
    pos++;
    while (pos < header.length && header.charAt(pos) !== '"') {
      if (header.charAt(pos) === "\\") pos++;
      out += header.charAt(pos);
      pos++;
    }
    pos++;
    return out;
  };

  while (pos < header.length) {
    skip(/[\s,]/);
    const scheme = token();
    if (scheme === undefined) {
      pos++; // not a token: skip the stray character
      continue;
    }
    const challenge: AuthChallenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    for (;;) {
      skip(/[\s,]/);
      const start = pos;
      const name = token();
      skip(/\s/);
      if (name === undefined || header.charAt(pos) !== "=") {
        pos = start; // the next challenge's scheme (or a token68, which no registry sends)
        break;
      }
      pos++;
      skip(/\s/);
      challenge.params[name.toLowerCase()] = value();
    }
  }
  return challenges;
}

/** The Bearer challenge among `challenges`, if one has the realm a token exchange needs. */
export function findBearerChallenge(challenges: AuthChallenge[]): BearerChallenge | undefined {
  const bearer = challenges.find((c) => c.scheme === "bearer" && c.params.realm);
  if (!bearer?.params.realm) return undefined;
  const { realm, service, scope } = bearer.params;
  return { realm, ...(service ? { service } : {}), ...(scope ? { scope } : {}) };
}

/**
 * The token endpoint URL: the realm with `service` and one `scope` per
 * space-separated scope of the challenge (token.md, "Requesting a Token").
 */
export function tokenRequestUrl(challenge: BearerChallenge): string {
  const url = new URL(challenge.realm);
  if (challenge.service) url.searchParams.append("service", challenge.service);
  for (const scope of challenge.scope?.split(" ") ?? []) {
    if (scope) url.searchParams.append("scope", scope);
  }
  return url.toString();
}

/** The `Authorization: Basic` value (RFC 7617), kept in a Secret so it cannot be logged. */
export function basicAuthorization(username: string, password: Secret): Secret {
  return new Secret(`Basic ${Buffer.from(`${username}:${password.reveal()}`).toString("base64")}`);
}

/** Tokens are dropped this long before they expire, so none expires in flight. */
const EXPIRY_MARGIN_MS = 5_000;

/**
 * Reads a token endpoint's JSON answer. `token` or `access_token` holds the
 * token; `expires_in` defaults to 60 s; the lifetime counts from `issued_at`
 * when given, else from `now` (token.md, "Token Response Fields").
 */
export function parseTokenResponse(body: unknown, now: number): CachedToken | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const fields = body as Record<string, unknown>;
  const token =
    typeof fields.token === "string" && fields.token
      ? fields.token
      : typeof fields.access_token === "string" && fields.access_token
        ? fields.access_token
        : undefined;
  if (token === undefined) return undefined;
  const expiresIn =
    typeof fields.expires_in === "number" && fields.expires_in > 0 ? fields.expires_in : 60;
  const issuedAt = typeof fields.issued_at === "string" ? Date.parse(fields.issued_at) : Number.NaN;
  const start = Number.isNaN(issuedAt) ? now : issuedAt;
  return { token: new Secret(token), expiresAt: start + expiresIn * 1000 - EXPIRY_MARGIN_MS };
}
