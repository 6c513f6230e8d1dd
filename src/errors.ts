/**
 * The few error types domain code throws. Only the edges translate them: the
 * CLI's top-level catch into an exit code, the HTTP error handler into a status.
 * Every message says what is wrong, where, and what to do next.
 */
export class SkiffError extends Error {
  /** HTTP status the API answers with. */
  readonly status: number = 500;
  /** Stable machine-readable code for `--json` output and API clients. */
  readonly code: string = "internal";
  constructor(
    message: string,
    /** What the user can do about it, shown after the message. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Input that can never work as given (bad name, bad spec, bad flag value). */
export class ValidationError extends SkiffError {
  override readonly status = 400;
  override readonly code = "invalid";
}

export class NotFoundError extends SkiffError {
  override readonly status = 404;
  override readonly code = "not_found";
}

export class ConflictError extends SkiffError {
  override readonly status = 409;
  override readonly code = "conflict";
}

export class UnauthorizedError extends SkiffError {
  override readonly status = 401;
  override readonly code = "unauthorized";
}

/** A valid token that may not do this (a secret's value unasked, a token's scope). */
export class ForbiddenError extends SkiffError {
  override readonly status = 403;
  override readonly code = "forbidden";
}

/** A part of the data plane (Docker, registry, edge) failed or is missing. */
export class DependencyError extends SkiffError {
  override readonly status = 502;
  override readonly code = "dependency_failed";
}

/** Thrown by CLI code to end with a specific exit code after printing `message`. */
export class ExitError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = "ExitError";
  }
}
