// The Engine API's answers that mean "nothing left to do", matched by name in
// one place (Engine API 1.41 reference); any other answer of the daemon is an
// error the caller must see.

/**
 * - `notModified`: 304 from `POST /containers/{id}/stop` ("container already
 *   stopped") and `/start` ("container already started").
 * - `noSuchObject`: 404 "No such container" / "network … not found" / "no such
 *   volume" / "No such image" from any call on one object.
 * - `inProgress`: 409 from `DELETE /containers/{id}`, "removal of container … is
 *   already in progress", when another removal got there first; and from
 *   `POST /networks/create` when the network exists already.
 * - `notRunning`: 409 from `POST /containers/{id}/kill`, "container … is not
 *   running".
 */
export const DAEMON_ANSWERS = {
  notModified: 304,
  noSuchObject: 404,
  inProgress: 409,
  notRunning: 409,
} as const;

export type DaemonAnswer = keyof typeof DAEMON_ANSWERS;

/** The HTTP status of a daemon's answer carried by a dockerode error, if it is one. */
export function daemonStatus(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === "number" ? status : undefined;
}

/** Whether the daemon answered one of these (and so there is nothing left to do). */
export function isDaemonAnswer(error: unknown, ...answers: readonly DaemonAnswer[]): boolean {
  const status = daemonStatus(error);
  return status !== undefined && answers.some((answer) => DAEMON_ANSWERS[answer] === status);
}

/** The object is not there (any more): 404. */
export function isGone(error: unknown): boolean {
  return isDaemonAnswer(error, "noSuchObject");
}

/**
 * For `.catch(…)`: swallows the daemon answers named, rethrows everything
 * else (a daemon that is down, a refused request, a timeout).
 */
export function unless(...answers: readonly DaemonAnswer[]): (error: unknown) => void {
  return (error) => {
    if (!isDaemonAnswer(error, ...answers)) throw error;
  };
}
