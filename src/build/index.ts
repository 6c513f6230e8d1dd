export {
  type BuildFailure,
  type BuildResult,
  type BuildSuccess,
  buildImage,
} from "./build-image.js";
export { type BuildContextOptions, createBuildContext, listBuildContext } from "./context.js";
export { IgnoreMatcher, parseDockerignore } from "./dockerignore.js";
export { type BuildRequest, INLINE_CACHE_ARG, parseExitCode, toBuildQuery } from "./request.js";
export {
  type BuildEvent,
  type BuildEventHandler,
  type BuildStep,
  OUTPUT_TAIL_LINES,
} from "./steps.js";
