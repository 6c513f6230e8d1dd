/**
 * What went wrong talking to a registry, in words an operator can act on.
 * The functions here are pure: they turn a failed exchange into a message
 * and a hint, so each known case is a row in a test table.
 */

/** A registry request failed: `status` is the registry's HTTP status (absent when no answer came). */
export class RegistryError extends Error {
  /** The registry's HTTP status; undefined for network failures and timeouts. */
  readonly status: number | undefined;
  /** Base URL of the registry, e.g. http://127.0.0.1:5000. */
  readonly registry: string;
  /** What the operator can do about it. */
  readonly hint: string;
  /** The first Distribution error code of the answer (`UNSUPPORTED`, `NAME_UNKNOWN`, ...). */
  readonly code: string | undefined;

  constructor(options: {
    message: string;
    registry: string;
    hint: string;
    status?: number;
    code?: string;
    cause?: unknown;
  }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RegistryError";
    this.status = options.status;
    this.registry = options.registry;
    this.hint = options.hint;
    this.code = options.code;
  }
}

/** One entry of a Distribution error body: `{"errors":[{"code","message","detail"}]}`. */
export interface DistributionErrorEntry {
  code: string;
  message: string;
}

/** The `errors` of a Distribution error body (docs/spec/api.md, "Errors"); [] for anything else. */
export function parseErrorBody(text: string): DistributionErrorEntry[] {
  try {
    const body = JSON.parse(text) as { errors?: unknown };
    if (!Array.isArray(body.errors)) return [];
    return body.errors.flatMap((entry: unknown) => {
      if (typeof entry !== "object" || entry === null) return [];
      const { code, message } = entry as Record<string, unknown>;
      return typeof code === "string"
        ? [{ code, message: typeof message === "string" ? message : "" }]
        : [];
    });
  } catch {
    return [];
  }
}

/** A failure described for people: what happened (without the registry's name) and what to do. */
export interface FailureDescription {
  reason: string;
  hint: string;
}

const CREDENTIAL_VARS = "SKIFF_REGISTRY_USERNAME and SKIFF_REGISTRY_PASSWORD";

/**
 * Node's fetch (undici) rejects with `TypeError("fetch failed")` whose `cause`
 * carries the system error code; a timeout from AbortSignal.timeout rejects
 * with a DOMException named TimeoutError. Codes seen: ECONNREFUSED (nothing
 * listens), ENOTFOUND / EAI_AGAIN (DNS), ECONNRESET / UND_ERR_SOCKET (closed
 * mid-answer), ERR_SSL_WRONG_VERSION_NUMBER / EPROTO (https to a plain-HTTP port).
 */
export function describeNetworkError(error: unknown, timeoutMs: number): FailureDescription {
  const code = networkErrorCode(error);
  const start = "start the registry (`skiff server` runs the managed one on 127.0.0.1:5000)";
  switch (code) {
    case "TimeoutError":
      return {
        reason: `no answer within ${timeoutMs} ms`,
        hint: "check that the registry process is running and not stuck, and that nothing between Skiff and it drops traffic",
      };
    case "ECONNREFUSED":
      return {
        reason: "connection refused (nothing listens on that port)",
        hint: `${start}, or set SKIFF_REGISTRY_URL to the address of a running registry`,
      };
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return {
        reason: "the host name does not resolve",
        hint: "check the host in SKIFF_REGISTRY_URL",
      };
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return {
        reason: "the connection was closed before an answer came",
        hint: "check the registry's log; a proxy in front of it may be cutting connections",
      };
    case "ERR_SSL_WRONG_VERSION_NUMBER":
    case "EPROTO":
      return {
        reason: "TLS handshake failed: the port does not speak HTTPS",
        hint: "the registry serves plain HTTP: use an http:// URL in SKIFF_REGISTRY_URL",
      };
    default: {
      const detail = error instanceof Error ? (causeMessage(error) ?? error.message) : "";
      return {
        reason: `request failed${code ? ` (${code})` : ""}${detail ? `: ${detail}` : ""}`,
        hint: "check SKIFF_REGISTRY_URL and that the registry is running",
      };
    }
  }
}

function networkErrorCode(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  if (error.name === "TimeoutError") return "TimeoutError";
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const { code } = current as { code?: unknown };
    if (typeof code === "string") return code;
    // Dual-stack connects fail with an AggregateError whose parts hold the codes.
    const first: unknown = current instanceof AggregateError ? current.errors[0] : undefined;
    current = first ?? current.cause;
  }
  return undefined;
}

function causeMessage(error: Error): string | undefined {
  return error.cause instanceof Error ? error.cause.message : undefined;
}

/** What the client knew when an HTTP answer was a failure. */
export interface HttpFailure {
  /** What Skiff was doing, e.g. `list the tags of shop/web`. */
  action: string;
  status: number;
  errors: DistributionErrorEntry[];
  /** The user name sent, if credentials were configured (never the password). */
  username?: string;
}

/** Message and hint for a non-success HTTP answer from a registry. */
export function describeHttpFailure(failure: HttpFailure): FailureDescription {
  const { action, status, errors, username } = failure;
  const first = errors[0];
  const said = first ? `: ${first.code}${first.message ? ` ${first.message}` : ""}` : "";
  switch (status) {
    case 401:
      return username === undefined
        ? {
            reason: `could not ${action}: the registry requires authentication (401)`,
            hint: `set ${CREDENTIAL_VARS} to an account on this registry`,
          }
        : {
            reason: `could not ${action}: the registry rejected the credentials of user ${JSON.stringify(username)} (401)`,
            hint: `check ${CREDENTIAL_VARS}; the password may have been changed or the token revoked`,
          };
    case 403:
      return {
        reason: `could not ${action}: access denied (403)${said}`,
        hint:
          username === undefined
            ? `set ${CREDENTIAL_VARS} to an account allowed to do this`
            : `give user ${JSON.stringify(username)} this permission on the registry`,
      };
    case 405:
      if (first?.code === "UNSUPPORTED" || /delete/i.test(action)) {
        return {
          reason: `could not ${action}: the registry has deletes disabled (405${said})`,
          hint: "enable deletes in the registry's config (storage: delete: enabled: true, or REGISTRY_STORAGE_DELETE_ENABLED=true) and restart it; Skiff's managed registry has them on",
        };
      }
      break;
    case 429:
      return {
        reason: `could not ${action}: rate limited by the registry (429)`,
        hint: "wait a minute and retry; a hosted registry may need a paid plan or fewer requests",
      };
  }
  if (status >= 500) {
    return {
      reason: `could not ${action}: the registry failed with ${status}${said}`,
      hint: "see the registry's log; a full disk or a broken storage backend are the usual causes",
    };
  }
  return {
    reason: `could not ${action}: unexpected answer ${status}${said}`,
    hint: "check that SKIFF_REGISTRY_URL points at a registry that speaks the Docker Registry HTTP API v2",
  };
}
