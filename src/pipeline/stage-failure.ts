/** A failure a stage reports on purpose: its message is the run's reason, shown to the pusher. */
export class StageFailure extends Error {
  constructor(
    message: string,
    /** Extra lines for the log (a failing step's output, a container's log tail). */
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = "StageFailure";
  }
}
