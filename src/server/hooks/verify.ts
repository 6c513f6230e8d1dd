import { createHmac, timingSafeEqual } from "node:crypto";

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

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  // timingSafeEqual needs equal lengths; comparing a digest of each keeps the
  // comparison constant-time without revealing the expected length.
  return (
    left.length === right.length &&
    timingSafeEqual(
      createHmac("sha256", "skiff").update(left).digest(),
      createHmac("sha256", "skiff").update(right).digest(),
    )
  );
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
  const header = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  switch (forge) {
    case "github": {
      const signature = header("x-hub-signature-256");
      if (!signature) return { ok: false, reason: "the X-Hub-Signature-256 header is missing" };
      return safeEqual(signature, `sha256=${hmacHex(secret, rawBody)}`)
        ? { ok: true }
        : {
            ok: false,
            reason: "the X-Hub-Signature-256 signature does not match the app's webhook secret",
          };
    }
    case "gitea": {
      const signature = header("x-gitea-signature");
      if (!signature) return { ok: false, reason: "the X-Gitea-Signature header is missing" };
      return safeEqual(signature, hmacHex(secret, rawBody))
        ? { ok: true }
        : {
            ok: false,
            reason: "the X-Gitea-Signature signature does not match the app's webhook secret",
          };
    }
    case "gitlab": {
      const token = header("x-gitlab-token");
      if (!token) return { ok: false, reason: "the X-Gitlab-Token header is missing" };
      return safeEqual(token, secret)
        ? { ok: true }
        : { ok: false, reason: "the X-Gitlab-Token does not match the app's webhook secret" };
    }
  }
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
