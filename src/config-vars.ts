// An app's config vars, as the operator set them with `skiff config:set`.
// App-wide vars feed the spec's `${VAR}` interpolation and Compose's
// pass-through (`environment: [VAR]`), over the tree's `.env`, which is
// over the spec's own defaults. They also go into the environment of every
// service built from the repository (the app's own code reads its config
// from there, as on Heroku), but not of a service that runs a given
// `image:` (a database, a cache): the spec configures those, so setting a
// var the database does not use never restarts it. A service's own vars
// (`--service`) go into that service's environment, over the app-wide ones.
// Values are kept byte for byte as given.

/** The config of an app at one moment: what a release is made with. */
export interface ConfigSnapshot {
  /** App-wide vars. */
  app: Record<string, string>;
  /** Per service, the vars only that service gets. */
  services: Record<string, Record<string, string>>;
  /**
   * The vars set with `--secret`, by secretName: sealed at rest, masked in
   * answers, scrubbed from every log. Absent: none.
   */
  secret?: string[];
}

export const EMPTY_CONFIG: ConfigSnapshot = Object.freeze({ app: {}, services: {} });

/** How `secret` names a var: `KEY` app-wide, `SERVICE/KEY` for a service's own. */
export function secretName(key: string, service = ""): string {
  return service === "" ? key : `${service}/${key}`;
}

/** Whether the var is a secret. */
export function isSecret(config: ConfigSnapshot, key: string, service = ""): boolean {
  return config.secret?.includes(secretName(key, service)) ?? false;
}

/** Every secret value of the snapshot (what logs must never show). */
export function secretValues(config: ConfigSnapshot): string[] {
  const values: string[] = [];
  for (const name of config.secret ?? []) {
    const slash = name.indexOf("/");
    const value =
      slash < 0 ? config.app[name] : config.services[name.slice(0, slash)]?.[name.slice(slash + 1)];
    if (value !== undefined) values.push(value);
  }
  return values;
}

/** A secret shorter than this is refused: it could not be told apart from ordinary text in logs. */
export const SECRET_MIN_LENGTH = 4;

/** An environment variable name that `${NAME}` interpolation can name too. */
const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const CONFIG_KEY_MAX_LENGTH = 256;
/** A config value is a setting, a password, a certificate: never a file's worth. */
export const CONFIG_VALUE_MAX_BYTES = 64 * 1024;

/** Why `key` cannot be a config var's name, or undefined when it can. */
export function configKeyProblem(key: string): string | undefined {
  if (key.length > CONFIG_KEY_MAX_LENGTH) {
    return `the config key ${JSON.stringify(key.slice(0, 40))}… is longer than ${CONFIG_KEY_MAX_LENGTH} characters`;
  }
  if (key === "__proto__") {
    return "__proto__ cannot be a config key: JavaScript objects treat it as their prototype";
  }
  if (!KEY.test(key)) {
    return `${JSON.stringify(key)} is not a valid config key: use letters, digits and _, not starting with a digit (as in DATABASE_URL)`;
  }
  return undefined;
}

/** Why `value` (of `key`) cannot be stored, or undefined when it can. Never quotes the value. */
export function configValueProblem(key: string, value: string): string | undefined {
  if (value.includes("\0")) {
    return `the value of ${key} holds a NUL character, which no environment variable can carry`;
  }
  if (Buffer.byteLength(value, "utf8") > CONFIG_VALUE_MAX_BYTES) {
    return `the value of ${key} is larger than ${CONFIG_VALUE_MAX_BYTES / 1024} KiB; put a file that large into the repository or a volume instead`;
  }
  return undefined;
}

/** The variables `${VAR}` interpolation sees from the config (app-wide vars only). */
export function interpolationVariables(config: ConfigSnapshot): Record<string, string> {
  return { ...config.app };
}

/** What the config adds to a service's environment, over what the spec sets there. */
export function serviceConfigEnvironment(
  config: ConfigSnapshot,
  service: { name: string; builtFromRepository: boolean },
): Record<string, string> {
  return {
    ...(service.builtFromRepository ? config.app : {}),
    ...(config.services[service.name] ?? {}),
  };
}

/** Whether two snapshots hold the same vars with the same values. */
export function sameConfig(a: ConfigSnapshot, b: ConfigSnapshot): boolean {
  return canonical(a) === canonical(b);
}

function canonical(config: ConfigSnapshot): string {
  const sorted = (vars: Record<string, string>) =>
    Object.keys(vars)
      .sort()
      .map((key) => [key, vars[key]]);
  return JSON.stringify([
    [...(config.secret ?? [])].sort(),
    sorted(config.app),
    Object.keys(config.services)
      .sort()
      .filter((service) => Object.keys(config.services[service] ?? {}).length > 0)
      .map((service) => [service, sorted(config.services[service] ?? {})]),
  ]);
}

/**
 * The config a rollback leaves: the target release's, except each var
 * changed while the rollback ran (from `before` to `now`), which keeps its
 * new value or stays unset; a var that is a secret now or in the target
 * stays a secret.
 */
export function mergeRolledBackConfig(input: {
  target: ConfigSnapshot;
  before: ConfigSnapshot;
  now: ConfigSnapshot;
}): ConfigSnapshot {
  const { target, before, now } = input;
  const scopes = new Set(["", ...Object.keys(target.services), ...Object.keys(now.services)]);
  const vars = (config: ConfigSnapshot, service: string) =>
    service === "" ? config.app : (config.services[service] ?? {});
  const out: ConfigSnapshot = { app: {}, services: {} };
  for (const service of scopes) {
    const merged: Record<string, string> = { ...vars(target, service) };
    const was = vars(before, service);
    const is = vars(now, service);
    for (const key of new Set([...Object.keys(was), ...Object.keys(is)])) {
      if (was[key] === is[key]) continue;
      if (Object.hasOwn(is, key)) merged[key] = is[key] as string;
      else delete merged[key];
    }
    if (service === "") out.app = merged;
    else if (Object.keys(merged).length > 0) out.services[service] = merged;
  }
  const secret = [...new Set([...(target.secret ?? []), ...(now.secret ?? [])])].filter((name) => {
    const slash = name.indexOf("/");
    const service = slash < 0 ? "" : name.slice(0, slash);
    const key = slash < 0 ? name : name.slice(slash + 1);
    return Object.hasOwn(vars(out, service), key);
  });
  return secret.length > 0 ? { ...out, secret } : out;
}
