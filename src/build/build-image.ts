import type { Readable } from "node:stream";
import type Docker from "dockerode";
import {
  type EngineMessage,
  engineMessages,
  messageError,
  openEngineStream,
} from "../docker/engine-stream.js";
import { ValidationError } from "../errors.js";
import { decodeTraceAux } from "./buildkit-status.js";
import { createBuildContext } from "./context.js";
import { type BuildRequest, parseExitCode, toBuildQuery } from "./request.js";
import { type BuildEventHandler, type BuildStep, StepRecorder } from "./steps.js";

/** A finished build: the image and how each step went. */
export interface BuildSuccess {
  ok: true;
  /** `sha256:...` */
  imageId: string;
  steps: BuildStep[];
  durationMs: number;
}

/** A build that did not produce an image; never thrown, always returned. */
export interface BuildFailure {
  ok: false;
  /**
   * `step`: a Dockerfile step failed (its name, exit code and output are set);
   * `error`: the build failed elsewhere (bad Dockerfile, missing base image,
   * unreadable context, daemon refused); `cancelled`: the signal aborted it.
   */
  reason: "step" | "error" | "cancelled";
  message: string;
  hint?: string;
  failedStep?: BuildStep;
  /** The failing RUN's exit code, when the error names one. */
  exitCode?: number;
  /** The failing step's last lines of output (at most OUTPUT_TAIL_LINES). */
  output: string[];
  steps: BuildStep[];
  durationMs: number;
}

export type BuildResult = BuildSuccess | BuildFailure;

/** What a failure says; the steps and timing are added where it is returned. */
type FailureDetails = Omit<BuildFailure, "ok" | "steps" | "durationMs" | "output"> & {
  output?: string[];
};

/**
 * Builds one image with BuildKit through the Engine API (`POST
 * /build?version=2`, no session: the context goes up as a tar). Steps are
 * reported through `onEvent` as they start and finish. Build errors arrive
 * inside the JSON stream and come back as `{ ok: false }`, as does a
 * cancellation; only an invalid request (no tag, a missing context or
 * Dockerfile) throws, before anything is sent. A cache source that is
 * missing or unreachable does not fail the build: BuildKit marks its
 * `importing cache manifest` step with the error and builds without it.
 *
 * dockerode's `buildImage` passes `version` through, but for version 2 it
 * also opens a gRPC session (`/session`, through @grpc/grpc-js) that is only
 * closed when the response ends; Skiff needs no session (it serves secret
 * and SSH mounts, local exports and registry credentials for BuildKit), so
 * the request goes through `docker.modem` directly.
 */
export async function buildImage(
  docker: Docker,
  request: BuildRequest,
  onEvent: BuildEventHandler = () => {},
): Promise<BuildResult> {
  if (request.tags.length === 0) {
    throw new ValidationError(
      `build of ${request.contextDir} has no tag`,
      "give the image at least one reference, e.g. 127.0.0.1:5000/shop/web:r1",
    );
  }
  const started = Date.now();
  const recorder = new StepRecorder(onEvent);
  const context = await createBuildContext(request.contextDir, {
    ...(request.dockerfile ? { dockerfile: request.dockerfile } : {}),
  });
  let contextError: Error | undefined;
  context.on("error", (error: Error) => {
    contextError = error;
  });

  const fail = (failure: FailureDetails): BuildFailure => ({
    ok: false,
    output: [],
    ...failure,
    steps: recorder.steps(),
    durationMs: Date.now() - started,
  });

  let imageId: string | undefined;
  let streamError: string | undefined;
  try {
    const response = await openEngineStream(docker, {
      method: "POST",
      path: "/build",
      query: toBuildQuery(request),
      headers: { "Content-Type": "application/x-tar" },
      body: context,
      action: `build ${request.tags[0] ?? request.contextDir}`,
      ...(request.signal ? { signal: request.signal } : {}),
    });
    for await (const message of engineMessages(response)) {
      const error = handleMessage(message, recorder);
      if (error !== undefined) streamError ??= error;
      const id = imageIdOf(message);
      if (id) imageId = id;
    }
  } catch (error) {
    if (request.signal?.aborted) {
      return fail({ reason: "cancelled", message: "build cancelled" });
    }
    if (contextError) return contextFailure(contextError, fail);
    const { message, hint } = error as Error & { hint?: string };
    return fail({ reason: "error", message, ...(hint ? { hint } : {}) });
  } finally {
    destroy(context);
  }

  if (request.signal?.aborted) return fail({ reason: "cancelled", message: "build cancelled" });
  if (streamError !== undefined) {
    const failedStep = recorder.failedStep();
    const exitCode = parseExitCode(streamError);
    if (failedStep && !failedStep.internal) {
      return fail({
        reason: "step",
        message: `${failedStep.name} failed: ${streamError}`,
        failedStep,
        ...(exitCode === undefined ? {} : { exitCode }),
        output: recorder.output(failedStep.id),
        hint: hintFor(streamError).hint ?? stepHint(failedStep, exitCode),
      });
    }
    return fail({
      reason: "error",
      message: streamError,
      ...(failedStep ? { failedStep, output: recorder.output(failedStep.id) } : {}),
      ...hintFor(streamError),
    });
  }
  if (contextError) return contextFailure(contextError, fail);
  if (!imageId) {
    return fail({
      reason: "error",
      message: "the build stream ended without an image id",
      hint: "the daemon may have been restarted during the build; see its log and build again",
    });
  }
  return { ok: true, imageId, steps: recorder.steps(), durationMs: Date.now() - started };
}

/** Applies one stream message; returns the error it carries, if any. */
function handleMessage(message: EngineMessage, recorder: StepRecorder): string | undefined {
  if (message.id === "moby.buildkit.trace" && typeof message.aux === "string") {
    try {
      recorder.apply(decodeTraceAux(message.aux));
    } catch {
      // A trace we cannot read costs a progress update, not the build.
    }
  }
  return messageError(message);
}

/** The image id of a `{"id":"moby.image.id","aux":{"ID":"sha256:..."}}` message. */
export function imageIdOf(message: EngineMessage): string | undefined {
  if (message.id !== "moby.image.id" || typeof message.aux !== "object" || message.aux === null) {
    return undefined;
  }
  const id = (message.aux as { ID?: unknown }).ID;
  return typeof id === "string" ? id : undefined;
}

function stepHint(step: BuildStep, exitCode: number | undefined): string {
  if (/^\[[^\]]*\] RUN /.test(step.name)) {
    return exitCode === 127
      ? "the command was not found in the image: install it in an earlier step or check the base image"
      : "the command in this RUN step failed; its output above says why. Run it in the base image to reproduce";
  }
  return "fix this Dockerfile step; its error above says what is wrong";
}

/** Hints for errors the daemon reports outside a step (its known error strings). */
function hintFor(message: string): { hint?: string } {
  if (
    /failed to do request: .*registry-1\.docker\.io|lookup registry-1\.docker\.io/.test(message)
  ) {
    return {
      hint: "the base image is not on this host and Docker Hub is unreachable: build it here (skiff bases) or push it to the registry and use FROM <registry>/<name>",
    };
  }
  if (/pull access denied|not found: manifest unknown|manifest unknown/.test(message)) {
    return { hint: "the base image (FROM) does not exist under that name: check its name and tag" };
  }
  if (/failed to compute cache key: .* not found/.test(message)) {
    return {
      hint: "a COPY/ADD source is not in the build context: check the path, and that .dockerignore does not leave it out",
    };
  }
  if (/dockerfile parse error|unknown instruction/i.test(message)) {
    return { hint: "the Dockerfile has a syntax error at the line named above" };
  }
  if (/failed to resolve source metadata for docker\.io\/docker\/dockerfile/.test(message)) {
    return {
      hint: "a `# syntax=` line makes BuildKit fetch a frontend image from Docker Hub; remove the line to use the built-in frontend",
    };
  }
  if (/no space left on device/.test(message)) {
    return { hint: "the disk is full: prune old images and build cache, then build again" };
  }
  return {};
}

function contextFailure(
  error: Error,
  fail: (failure: FailureDetails) => BuildFailure,
): BuildFailure {
  const { hint } = error as Error & { hint?: string };
  return fail({
    reason: "error",
    message: `could not send the build context: ${error.message}`,
    ...(hint ? { hint } : {}),
  });
}

function destroy(stream: Readable): void {
  if (!stream.destroyed) stream.destroy();
}
