import { createHash, createHmac } from "node:crypto";
import { secretsEqual } from "../../safe-compare.js";

/** The git forges whose push webhooks Skiff accepts. */
export type Forge = "github" | "gitlab" | "gitea";
export const FORGES: readonly Forge[] = ["github", "gitlab", "gitea"];

/** The parts of a push event Skiff uses, whatever forge sent it. */
export interface PushEvent {
  /** e.g. refs/heads/main */
  ref: string;
  /** The commit the branch now points at. */
  after: string;
}

export type Verification = { ok: true } | { ok: false; reason: string };

type Headers = Record<string, string | string[] | undefined>;

function headerValue(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The header that carries each forge's signature or token. */
const CREDENTIAL_HEADER: Record<Forge, { name: string; shown: string; shape: RegExp }> = {
  // GitHub: "sha256=" and the lowercase hex HMAC ("Validating webhook deliveries").
  github: {
    name: "x-hub-signature-256",
    shown: "X-Hub-Signature-256",
    shape: /^sha256=[0-9a-f]{64}$/,
  },
  // Gitea: the bare lowercase hex HMAC.
  gitea: { name: "x-gitea-signature", shown: "X-Gitea-Signature", shape: /^[0-9a-f]{64}$/ },
  // GitLab: the secret token itself; Skiff's are 32 base64url characters,
  // and anything far longer than a token is no token.
  gitlab: { name: "x-gitlab-token", shown: "X-Gitlab-Token", shape: /^[\x21-\x7e]{1,256}$/ },
};

/**
 * What is wrong with a delivery's signature or token header, judged from the
 * header alone (missing, or not shaped as the forge sends it), so a delivery
 * that can never verify is refused before its body is read.
 */
export function credentialHeaderProblem(forge: Forge, headers: Headers): string | undefined {
  const { name, shown, shape } = CREDENTIAL_HEADER[forge];
  const value = headerValue(headers, name);
  if (!value) return `the ${shown} header is missing`;
  if (!shape.test(value)) return `the ${shown} header is not shaped as ${forge} sends it`;
  return undefined;
}

function hmacHex(secret: string, body: Buffer): string {
  return createHmac("sha256", secret).update(body).digest("hex");
}

/**
 * Checks that a webhook came from the forge that knows the app's secret:
 * GitHub and Gitea sign the raw body with HMAC-SHA256 (GitHub in
 * `X-Hub-Signature-256: sha256=<hex>`, Gitea in `X-Gitea-Signature: <hex>`);
 * GitLab sends the secret itself in `X-Gitlab-Token`.
 */
export function verifyWebhook(
  forge: Forge,
  headers: Record<string, string | string[] | undefined>,
  rawBody: Buffer,
  secret: string,
): Verification {
  const header = (name: string) => headerValue(headers, name);
  switch (forge) {
    case "github": {
      const signature = header("x-hub-signature-256");
      if (!signature) return { ok: false, reason: "the X-Hub-Signature-256 header is missing" };
      return secretsEqual(signature, `sha256=${hmacHex(secret, rawBody)}`)
        ? { ok: true }
        : {
            ok: false,
            reason: "the X-Hub-Signature-256 signature does not match the app's webhook secret",
          };
    }
    case "gitea": {
      const signature = header("x-gitea-signature");
      if (!signature) return { ok: false, reason: "the X-Gitea-Signature header is missing" };
      return secretsEqual(signature, hmacHex(secret, rawBody))
        ? { ok: true }
        : {
            ok: false,
            reason: "the X-Gitea-Signature signature does not match the app's webhook secret",
          };
    }
    case "gitlab": {
      const token = header("x-gitlab-token");
      if (!token) return { ok: false, reason: "the X-Gitlab-Token header is missing" };
      return secretsEqual(token, secret)
        ? { ok: true }
        : { ok: false, reason: "the X-Gitlab-Token does not match the app's webhook secret" };
    }
  }
}

/**
 * The forge's delivery ids, whichever it sent. A retry or a redelivery
 * carries the same id: GitHub `X-GitHub-Delivery`, Gitea `X-Gitea-Delivery`,
 * GitLab `Idempotency-Key` (constant across retries) and
 * `X-Gitlab-Event-UUID`. Overlong values are not ids and are left out.
 */
export function deliveryIds(forge: Forge, headers: Headers): string[] {
  const names: Record<Forge, string[]> = {
    github: ["x-github-delivery"],
    gitea: ["x-gitea-delivery"],
    gitlab: ["idempotency-key", "x-gitlab-event-uuid"],
  };
  return names[forge]
    .map((name) => headerValue(headers, name)?.trim() ?? "")
    .filter((id) => id !== "" && id.length <= 200);
}

/**
 * The keys a delivery is remembered by: its delivery ids and the digest of
 * its body. GitHub and Gitea sign only the body, so whoever captured a
 * delivery can replay it with any delivery id header; the body digest still
 * names it.
 */
export function deliveryKeys(forge: Forge, headers: Headers, rawBody: Buffer): string[] {
  return [
    ...deliveryIds(forge, headers).map((id) => `id:${forge}:${id}`),
    `body:${createHash("sha256").update(rawBody).digest("hex")}`,
  ];
}

/** Whether the forge says this delivery is a push (other events are acknowledged and ignored). */
export function isPushEvent(
  forge: Forge,
  headers: Record<string, string | string[] | undefined>,
): boolean {
  const value = (name: string) => String(headers[name] ?? "").toLowerCase();
  switch (forge) {
    case "github":
      return value("x-github-event") === "push";
    case "gitea":
      return value("x-gitea-event") === "push";
    case "gitlab":
      return value("x-gitlab-event") === "push hook";
  }
}

/** Reads `ref` and `after` from a push payload; undefined when they are missing or malformed. */
export function parsePushEvent(body: unknown): PushEvent | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const { ref, after } = body as { ref?: unknown; after?: unknown };
  if (typeof ref !== "string" || !ref.startsWith("refs/")) return undefined;
  if (typeof after !== "string" || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(after)) return undefined;
  return { ref, after };
}
