// The app spec: compose.yaml plus x-skiff keys, parsed, validated and
// resolved into a deploy plan. See docs/SPEC.md for the user's reference.

export { parseDotEnv } from "./dotenv.js";
export { type InterpolationResult, interpolate } from "./interpolate.js";
export { xSkiffJsonSchema } from "./json-schema.js";
export { findSpecFile, loadSpec, SPEC_FILE_NAMES } from "./load.js";
export { type ParseOptions, parseSpec, type SpecResult } from "./parse.js";
export type {
  ContainerSettings,
  ImageSource,
  Plan,
  PlanFile,
  PlanHealth,
  PlanService,
  RestartSpec,
  Route,
  ServiceKind,
  Ulimit,
} from "./plan.js";
export { DEFAULT_LIMITS, toPlan } from "./plan.js";
export { formatProblem, type SpecProblem } from "./problem.js";
export { renderSpecReference } from "./reference.js";
export type { SpecTree, TreeEntryKind } from "./tree.js";
export type {
  AppSpec,
  AutoscaleSpec,
  BudgetSpec,
  BuildSpec,
  DependencySpec,
  HealthcheckSpec,
  HttpHealthSpec,
  PublishedPort,
  ResourceLimits,
  ServiceSpec,
  SkiffServiceSpec,
  TestSpec,
  UpdateSpec,
  VolumeMount,
} from "./types.js";
export { parseBytes, parseDuration } from "./units.js";
