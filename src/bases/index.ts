export {
  BASE_LABELS,
  type BaseImageEvent,
  type BaseImageInfo,
  type BaseImagePhase,
  type BaseImageRequest,
  type BaseImageResult,
  baseImageReference,
  buildBaseImage,
  listBaseImages,
} from "./base-image.js";
export { CommandError } from "./command.js";
export { DEFAULT_MIRROR, detectMirror } from "./sources.js";
