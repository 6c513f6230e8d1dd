// Running a container's Docker healthcheck test ourselves, through exec.
//
// Docker runs a container's first health check one whole interval after it
// starts (Engine 20.10 has no start_interval), so a replica that is ready in
// 0.3 s is reported healthy after 2 s or more, and a deploy or a test waiting
// for it waits that long. Running the same test at a quicker pace until it
// first passes gives the same verdict as soon as it is true; Docker's own
// checks go on as configured for the replica's whole life.

import type Docker from "dockerode";

/**
 * The command a healthcheck `test` runs, or undefined for NONE or an empty
 * test. CMD-SHELL goes through the image's shell (a Dockerfile's SHELL, as
 * Docker does), else `/bin/sh -c`.
 */
export function healthTestCommand(
  test: readonly string[] | undefined,
  shell?: readonly string[],
): string[] | undefined {
  const [kind, ...rest] = test ?? [];
  if (kind === "CMD" && rest.length > 0) return rest;
  if (kind === "CMD-SHELL" && rest.length > 0) {
    return [...(shell?.length ? shell : ["/bin/sh", "-c"]), rest.join(" ")];
  }
  return undefined;
}

/**
 * Runs `command` in the running container as its healthcheck would, and
 * says whether it exited 0 within `timeoutMs`. Anything else is false: a
 * test still running at the timeout (the Engine API cannot stop an exec; it
 * ends on its own, as a timed-out Docker check would), a container that is
 * not running (yet, or any more: the caller's next inspect says which), an
 * abort. Never throws.
 */
export async function passesHealthTest(
  container: Docker.Container,
  command: string[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  try {
    const exec = await container.exec({ Cmd: command, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    try {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          resolve();
        }
        signal?.addEventListener("abort", done, { once: true });
        stream.on("end", done);
        stream.on("close", done);
        stream.on("error", done);
        stream.resume();
      });
    } finally {
      stream.destroy();
    }
    if (signal?.aborted) return false;
    const result = await exec.inspect();
    return !result.Running && result.ExitCode === 0;
  } catch {
    return false;
  }
}
