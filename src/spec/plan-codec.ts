// The deploy plan as a release stores it: JSON text with a version, read
// back through a schema instead of cast, so a damaged row or one written by
// a newer Skiff fails here, with what to do, and not halfway through a
// deploy as a missing field.

import { z } from "zod";
import type { Plan } from "./plan.js";

/** The version encodePlan writes. Bump it, and decode the old one, when a stored plan could no longer be read as a Plan. */
export const PLAN_VERSION = 1;

// The schema mirrors the types of plan.ts and types.ts field by field; the
// type-level check below fails `tsc` when the two drift apart. Plain
// z.object strips unknown keys, which is why that check must be exact: a
// field of Plan the schema lacked would be dropped from every decoded plan.

const testSpec = z.object({
  service: z.string(),
  run: z.string(),
  cache: z.boolean().optional(),
});

const dependencySpec = z.object({
  service: z.string(),
  condition: z.enum(["service_started", "service_healthy", "service_completed_successfully"]),
});

const updateSpec = z.object({
  order: z.enum(["start-first", "stop-first"]),
  failureAction: z.enum(["rollback", "pause", "continue"]),
});

const resourceLimits = z.object({
  cpus: z.number().optional(),
  memoryBytes: z.number().optional(),
  pids: z.number().optional(),
});

const volumeMount = z.object({
  source: z.string(),
  target: z.string(),
  readOnly: z.boolean(),
  noCopy: z.boolean().optional(),
});

const autoscaleSpec = z.object({
  min: z.number(),
  max: z.number(),
  cpuPercent: z.number(),
});

const budgetSpec = z.object({ imageBytes: z.number().optional() });

const buildSpec = z.object({
  context: z.string(),
  dockerfile: z.string(),
  target: z.string().optional(),
  args: z.record(z.string(), z.string()),
});

const planFile = z.object({
  origin: z.enum(["bind", "secret", "config"]),
  name: z.string(),
  target: z.string(),
  mode: z.number().optional(),
  uid: z.string().optional(),
  gid: z.string().optional(),
  source: z.discriminatedUnion("type", [
    z.object({ type: z.literal("tree"), path: z.string(), kind: z.enum(["file", "directory"]) }),
    z.object({ type: z.literal("environment"), variable: z.string() }),
    z.object({ type: z.literal("content"), content: z.string() }),
  ]),
});

const restartSpec = z.object({
  policy: z.enum(["no", "on-failure", "unless-stopped", "always"]),
  maxRetries: z.number().optional(),
});

const ulimit = z.object({ name: z.string(), soft: z.number(), hard: z.number() });

const imageSource = z.discriminatedUnion("type", [
  buildSpec.extend({ type: z.literal("build"), tag: z.string().optional() }),
  z.object({ type: z.literal("image"), image: z.string() }),
]);

const route = z.object({ domain: z.string(), port: z.number() });

const planHealth = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("http"),
    port: z.number(),
    path: z.string(),
    host: z.string().optional(),
    intervalMs: z.number(),
    retries: z.number(),
    deadlineMs: z.number(),
  }),
  z.object({
    type: z.literal("docker"),
    test: z.array(z.string()).optional(),
    intervalMs: z.number(),
    timeoutMs: z.number(),
    retries: z.number(),
    startPeriodMs: z.number(),
    deadlineMs: z.number(),
  }),
  z.object({ type: z.literal("running"), stableMs: z.number() }),
]);

const containerSettings = z.object({
  command: z.array(z.string()).optional(),
  entrypoint: z.array(z.string()).optional(),
  environment: z.record(z.string(), z.string()),
  user: z.string().optional(),
  workingDir: z.string().optional(),
  labels: z.record(z.string(), z.string()),
  limits: resourceLimits,
  stopGracePeriodMs: z.number(),
  volumes: z.array(volumeMount),
  port: z.number().optional(),
  // RuntimeSettings, picked from ServiceSpec.
  files: z.array(planFile).optional(),
  ephemeralVolumes: z.array(z.string()).optional(),
  tmpfs: z.record(z.string(), z.string()).optional(),
  restart: restartSpec.optional(),
  init: z.boolean().optional(),
  stopSignal: z.string().optional(),
  readOnly: z.boolean().optional(),
  capDrop: z.array(z.string()).optional(),
  noNewPrivileges: z.boolean().optional(),
  shmSizeBytes: z.number().optional(),
  ulimits: z.array(ulimit).optional(),
  hostname: z.string().optional(),
  aliases: z.array(z.string()).optional(),
});

const planService = z.object({
  name: z.string(),
  kind: z.enum(["web", "worker", "stateful"]),
  source: imageSource,
  replicas: z.number(),
  routes: z.array(route),
  health: planHealth,
  dependsOn: z.array(dependencySpec),
  update: updateSpec,
  container: containerSettings,
  autoscale: autoscaleSpec.optional(),
  budget: budgetSpec.optional(),
});

const planSchema = z.object({
  app: z.string(),
  services: z.array(planService),
  tests: z.array(testSpec),
  volumes: z.array(z.string()),
});

// The type-level check. Mutual assignability is not enough: a type missing
// an optional field is assignable both ways to one that has it. So both
// sides are flattened (`ImageSource`'s intersection becomes one object
// type) and compared with the identity test TypeScript itself applies to
// generic signatures, which tells `{ a?: T }` from `{}` and `string` from
// `"web" | "worker"`. Without exactOptionalPropertyTypes (tsconfig.json),
// zod's `a?: T | undefined` is the same type as Plan's `a?: T`.
// If this line fails, the schema above and Plan differ: add the field.
type Flat<T> = T extends readonly (infer U)[]
  ? Flat<U>[]
  : T extends object
    ? { [K in keyof T]: Flat<T[K]> }
    : T;
type Equals<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
type _PlanSchemaIsPlan = Assert<Equals<Flat<z.output<typeof planSchema>>, Flat<Plan>>>;

const envelope = z.object({ version: z.number(), plan: z.unknown() });

/** The plan as a release stores it: JSON of `{ version, plan }`. */
export function encodePlan(plan: Plan): string {
  return JSON.stringify({ version: PLAN_VERSION, plan });
}

const DAMAGED =
  "the stored row is damaged; redeploy the app (a push, or skiff rollback to a release whose plan reads) to store a fresh plan";
const MAX_ISSUES = 3;

/** Reads a plan encodePlan stored, checked against the schema; throws an Error saying what is wrong and what to do. */
export function decodePlan(text: string): Plan {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(
      `stored plan is not JSON (${error instanceof Error ? error.message : String(error)}): ${DAMAGED}`,
    );
  }
  const head = envelope.safeParse(value);
  if (!head.success) {
    throw new Error(`stored plan has no version: ${DAMAGED}`);
  }
  const { version, plan } = head.data;
  if (version > PLAN_VERSION) {
    throw new Error(
      `stored plan has version ${version}, newer than this Skiff reads (${PLAN_VERSION}): it was stored by a newer Skiff; upgrade Skiff to deploy or roll back to this release`,
    );
  }
  if (version !== PLAN_VERSION) {
    throw new Error(`stored plan has version ${version}, which no Skiff writes: ${DAMAGED}`);
  }
  const parsed = planSchema.safeParse(plan);
  if (!parsed.success) {
    const issues = parsed.error.issues;
    const shown = issues
      .slice(0, MAX_ISSUES)
      .map((issue) => `${issue.path.map(String).join(".") || "(root)"}: ${issue.message}`);
    const more = issues.length > MAX_ISSUES ? ` (and ${issues.length - MAX_ISSUES} more)` : "";
    throw new Error(`stored plan: ${shown.join("; ")}${more}: ${DAMAGED}`);
  }
  return parsed.data;
}
