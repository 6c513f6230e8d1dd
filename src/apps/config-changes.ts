import {
  configKeyProblem,
  configValueProblem,
  isSecret,
  SECRET_MIN_LENGTH,
  sameConfig,
} from "../config-vars.js";
import { NotFoundError, ValidationError } from "../errors.js";
import type { SourceProvider } from "../pipeline/pipeline.js";
import type { ConfigStore } from "../state/app-config.js";
import type { ReleaseRecord, RunTrigger } from "../state/runs.js";

/** A `config:set` or `config:unset`, as the API receives it. */
export interface ConfigChange {
  set?: Record<string, string>;
  unset?: string[];
  /** Vars of this service alone; absent: app-wide. */
  service?: string;
  /** Seal the vars set (`--secret`): masked in answers, scrubbed from logs. A secret stays one. */
  secret?: boolean;
  /** false: store the change for the next release instead of making one now. */
  restart: boolean;
  /** Who asks (a token's name), for the event and the run. */
  actor?: string;
}

/** What a change did. */
export interface ConfigChangeOutcome {
  /** Keys set to a new value, or unset. */
  changed: string[];
  /** Keys given to unset that were not set. */
  notSet: string[];
  /** The run that rolls the change out, when one started. */
  run?: number;
  /** Why no run started, when none did. */
  stored?: string;
}

export interface ConfigChangeDeps {
  config: ConfigStore;
  appExists(app: string): boolean;
  /** The live release, if any. */
  liveRelease(app: string): ReleaseRecord | undefined;
  /** Records a platform event of the app. */
  recordEvent?(app: string, message: string): void;
  /** Starts the run that makes a release from `release` with the new config. */
  submit(app: string, trigger: RunTrigger, source: SourceProvider): { run: { number: number } };
  /** The source of such a run: the tree and images of the release live when it starts (triggers/release-source.ts). */
  liveTree(change: string): SourceProvider;
}

/**
 * Stores a config change and, unless told not to, rolls it out the way
 * Heroku does: a new release from the live one's images, with nothing
 * built that the change leaves as it is, deployed like a push (only the
 * services whose environment changed are replaced). Every key and value is
 * checked before anything is stored; values are never quoted back.
 */
export function changeConfig(
  deps: ConfigChangeDeps,
  app: string,
  change: ConfigChange,
): ConfigChangeOutcome {
  if (!deps.appExists(app)) {
    throw new NotFoundError(`no app named "${app}"`, "skiff apps lists the apps");
  }
  const set = change.set ?? {};
  const unset = change.unset ?? [];
  if (Object.keys(set).length === 0 && unset.length === 0) {
    throw new ValidationError(
      "nothing to change: name at least one KEY=VALUE to set or KEY to unset",
      "skiff config:set APP KEY=VALUE… or skiff config:unset APP KEY…",
    );
  }
  const service = change.service ?? "";
  if (service !== "" && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(service)) {
    throw new ValidationError(
      `${JSON.stringify(service.slice(0, 64))} is not a service name`,
      "name a service of the app's compose.yaml (skiff ps APP lists them)",
    );
  }
  for (const key of [...Object.keys(set), ...unset]) {
    const problem = configKeyProblem(key);
    if (problem) throw new ValidationError(problem);
  }
  for (const [key, value] of Object.entries(set)) {
    if (typeof value !== "string") {
      throw new ValidationError(`the value of ${key} must be a string`);
    }
    const problem = configValueProblem(key, value);
    if (problem) throw new ValidationError(problem);
  }
  // Tolerant: a secret that no longer opens can still be unset or set again.
  const before = deps.config.snapshot(app, { tolerant: true });
  for (const [key, value] of Object.entries(set)) {
    const secret = change.secret === true || isSecret(before, key, change.service ?? "");
    if (secret && value.length < SECRET_MIN_LENGTH) {
      throw new ValidationError(
        `the secret ${key} is shorter than ${SECRET_MIN_LENGTH} characters`,
        "a secret that short could not be told apart from ordinary text when Skiff scrubs it from logs; use a longer value",
      );
    }
  }
  const both = unset.filter((key) => Object.hasOwn(set, key));
  if (both.length > 0) {
    throw new ValidationError(`${both.join(", ")} is both set and unset in one change`);
  }

  const current = service === "" ? before.app : (before.services[service] ?? {});
  const changed = Object.keys(set).filter(
    (key) =>
      current[key] !== set[key] || (change.secret === true && !isSecret(before, key, service)),
  );
  const notSet = unset.filter((key) => !deps.config.has(app, key, service));
  changed.push(...unset.filter((key) => deps.config.has(app, key, service)));
  if (Object.keys(set).length > 0) {
    deps.config.set(app, set, service, { secret: change.secret === true });
  }
  if (unset.length > 0) deps.config.unset(app, unset, service);

  const outcome: ConfigChangeOutcome = { changed, notSet };
  if (changed.length > 0) {
    // Names only: a value never goes into an event.
    deps.recordEvent?.(
      app,
      `${describeChange(change, service)} by ${change.actor ?? "an unnamed caller"}: ${changed.join(", ")} changed`,
    );
  }
  const live = deps.liveRelease(app);
  if (!live)
    return { ...outcome, stored: "no release is live yet; the next push or deploy uses it" };
  if (!change.restart) {
    return {
      ...outcome,
      stored: "stored without a new release (--no-restart); the next release uses it",
    };
  }
  const after = deps.config.snapshot(app, { tolerant: true });
  if (live.config && sameConfig(live.config, after)) {
    return {
      ...outcome,
      stored: `r${live.number} already runs with this config; nothing to roll out`,
    };
  }
  const what = describeChange(change, service);
  const submitted = deps.submit(
    app,
    { kind: "config", ...(change.actor ? { actor: change.actor } : {}) },
    deps.liveTree(what),
  );
  return { ...outcome, run: submitted.run.number };
}

function describeChange(change: ConfigChange, service: string): string {
  const keys = [...Object.keys(change.set ?? {}), ...(change.unset ?? [])].join(", ");
  const command = change.set && Object.keys(change.set).length > 0 ? "config:set" : "config:unset";
  return `${command} ${keys}${service ? ` (service ${service})` : ""}`;
}
