/**
 * A long-running data-plane process (the registry, the edge) that Skiff starts
 * detached from itself: it gets its own session and its own log file, so
 * stopping or killing `skiff server` leaves it serving. Skiff finds it again
 * through its pid file. The edge and the registry describe themselves with
 * it and the supervisor (runtime/) runs what they describe; it sits below all
 * three so that neither the edge nor the registry imports the supervisor.
 */
export interface ManagedProcessSpec {
  /** Component name used in events and messages: "registry", "edge". */
  name: string;
  /** Absolute path of the executable; also how a pid file's process is recognised. */
  command: string;
  args: readonly string[];
  pidFile: string;
  logFile: string;
  /** What to install when the executable is missing. */
  installHint: string;
  /**
   * TCP ports (on 127.0.0.1) the process listens on, with the setting that
   * moves each. They must be free before a start: something else answering
   * there would pass the health check in the moment before ours fails to bind.
   */
  ports?: { port: number; setting: string }[];
  /** Answers true when the process serves (its HTTP endpoint or socket answers). */
  isHealthy(): Promise<boolean>;
}
