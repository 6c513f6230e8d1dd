// The one schema of the app spec: the Compose keys Skiff honours, the
// Compose keys it knows but ignores (with what to do instead), and the
// `x-skiff` extension keys. Validation, the JSON Schema for editors and
// docs/SPEC.md are all derived from the definitions in this file.
//
// Messages follow one pattern, "must be <what is valid>"; the validator adds
// "(got <value>)" from the file, so every error says what would be valid.

import { posix } from "node:path";
import { z } from "zod";
import {
  checkTarget,
  checkVolumeName,
  isHostname,
  isImageReference,
  parseExpose,
  repoPath,
} from "./forms.js";
import { fileMode, fromLongMount, parseVolumeShort } from "./mounts.js";
import { parsePortShort } from "./ports.js";
import { splitCommand } from "./shell-words.js";
import { parseBytes, parseDuration } from "./units.js";

/** Marks a custom issue whose message already shows the offending value. */
const SHOWS_VALUE = { showsValue: true } as const;

// ---------------------------------------------------------------------------
// Registries the key checker and the reference docs read.

const ignoredBySchema = new WeakMap<z.ZodType, Record<string, string>>();
const refusedBySchema = new WeakMap<z.ZodType, Record<string, string>>();
const typeLabels = new WeakMap<z.ZodType, string>();

/**
 * Registers the Compose keys an object schema knows but ignores, each with
 * advice, and those it never grants (DESIGN.md, Trust), each with the reason.
 * Both give a warning naming the key; neither reaches a container.
 */
function section<T extends z.ZodType>(
  schema: T,
  ignored: Record<string, string>,
  refused: Record<string, string> = {},
): T {
  ignoredBySchema.set(schema, ignored);
  refusedBySchema.set(schema, refused);
  return schema;
}

/** The keys of `schema` (an object) Skiff never grants, with the reason for each. */
export function refusedKeysOf(schema: z.ZodType): Record<string, string> | undefined {
  return refusedBySchema.get(schema);
}

/** The Compose keys that `schema` (an object) knows but Skiff ignores, with advice for each. */
export function ignoredKeysOf(schema: z.ZodType): Record<string, string> | undefined {
  return ignoredBySchema.get(schema);
}

function labelled<T extends z.ZodType>(schema: T, label: string): T {
  typeLabels.set(schema, label);
  return schema;
}

/** The human type name of a field for the reference docs (`duration`, `integer 1–65535`, ...). */
export function typeLabelOf(schema: z.ZodType): string | undefined {
  return typeLabels.get(schema);
}

// ---------------------------------------------------------------------------
// Field helpers. Numbers and booleans also accept strings, because an
// interpolated value (`replicas: ${REPLICAS}`) is always a string, as in Compose.

const NUMERIC = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*$/;
const toNumber = (v: unknown) => (typeof v === "string" && NUMERIC.test(v) ? Number(v) : v);
const toBoolean = (v: unknown) => (v === "true" ? true : v === "false" ? false : v);
const toText = (v: unknown) => (typeof v === "number" ? String(v) : v);
// In a command, `[CMD, true]` means the program `true`, not a boolean.
const toArg = (v: unknown) => (typeof v === "number" || typeof v === "boolean" ? String(v) : v);
const ARG = z.preprocess(toArg, z.string({ error: "must be a string" }));

function wholeNumber(description: string, min: number, max?: number) {
  const m =
    max === undefined
      ? `must be a whole number ≥ ${min}`
      : `must be a whole number from ${min} to ${max}`;
  let n = z.number({ error: m }).int({ error: m }).min(min, { error: m });
  if (max !== undefined) n = n.max(max, { error: m });
  return labelled(
    z.preprocess(toNumber, n).describe(description),
    max === undefined ? `integer ≥ ${min}` : `integer ${min}–${max}`,
  );
}

/** A problem a `text` check found; `showsValue` when the message already quotes the value. */
type TextProblem = { message: string; showsValue?: boolean } | undefined;

function text(description: string, check?: (value: string) => TextProblem) {
  let s = z.string({ error: "must be a string" });
  if (check) {
    s = s.superRefine((value, ctx) => {
      const problem = check(value);
      if (problem) {
        ctx.addIssue({
          code: "custom",
          message: problem.message,
          params: problem.showsValue ? SHOWS_VALUE : undefined,
        });
      }
    });
  }
  return labelled(z.preprocess(toText, s).describe(description), "string");
}

/** A `text` check for paths that must stay inside the repository. */
const insideRepo = (value: string): TextProblem => {
  const p = repoPath(value);
  return p.ok ? undefined : { message: p.message, showsValue: true };
};

function flag(description: string) {
  const m = "must be true or false";
  return labelled(
    z.preprocess(toBoolean, z.boolean({ error: m })).describe(description),
    "boolean",
  );
}

function duration(description: string) {
  const m = "must be a duration like 10s, 1m30s or 500ms";
  return labelled(
    z
      .string({ error: m })
      .refine((s) => parseDuration(s) !== undefined, { error: m })
      .describe(description),
    "duration",
  );
}

function bytes(description: string, min?: { bytes: number; text: string }) {
  const m = min
    ? `must be a size of at least ${min.text}, like 512m or 1g`
    : "must be a size like 512m, 1g or 100MB";
  return labelled(
    z
      .union([z.number({ error: m }), z.string({ error: m })], { error: m })
      .refine(
        (v) => {
          const n = parseBytes(v);
          return n !== undefined && n >= (min?.bytes ?? 0);
        },
        { error: m },
      )
      .describe(description),
    "size",
  );
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T, description: string) {
  return labelled(
    z.enum(values, { error: `must be one of ${values.join(", ")}` }).describe(description),
    values.join(" | "),
  );
}

function hostname(description: string) {
  const m = "must be a hostname like shop.example.com (no scheme, port or path)";
  return labelled(
    z
      .string({ error: m })
      .refine((s) => isHostname(s), { error: m })
      .describe(description),
    "hostname",
  );
}

/** A mapping with exactly these keys (the key checker has removed ignored and x- keys before validation). */
function mapping<T extends z.core.$ZodLooseShape>(shape: T) {
  return z.strictObject(shape, { error: "must be a mapping" });
}

const KV_VALUE = z.union([z.string(), z.number(), z.boolean(), z.null()], {
  error: "must be a string, a number, true/false or empty",
});

/** Compose's list-or-mapping form: `[KEY=VALUE, KEY]` or `{KEY: VALUE}`. */
function listOrMap(description: string, checkKey?: (key: string) => string | undefined) {
  return z
    .union(
      [
        z.array(z.preprocess(toText, z.string({ error: "must be a KEY=VALUE string" }))),
        z.record(z.string(), KV_VALUE),
      ],
      { error: "must be a list of KEY=VALUE strings or a mapping of KEY: value" },
    )
    .superRefine((value, ctx) => {
      const entries: [string | number, string][] = Array.isArray(value)
        ? value.map((item, i) => [i, item.split("=")[0] ?? ""])
        : Object.keys(value).map((k) => [k, k]);
      for (const [at, key] of entries) {
        const problem =
          key.trim() === ""
            ? "must start with a non-empty KEY, as in KEY=VALUE"
            : key !== key.trim()
              ? `the KEY must not start or end with spaces (got ${JSON.stringify(key)})`
              : checkKey?.(key);
        if (problem)
          ctx.addIssue({ code: "custom", path: [at], message: problem, params: SHOWS_VALUE });
      }
    })
    .describe(description);
}

const CONDITIONS = [
  "service_started",
  "service_healthy",
  "service_completed_successfully",
] as const;

// ---------------------------------------------------------------------------
// x-skiff: Skiff's own keys. Each field's describe() text is its documentation.

/**
 * Defaults of x-skiff.health. They are applied after validation (normalise
 * and plan), not by the schema, so the parsed value still tells which keys
 * the user wrote: the HTTP keys need a port, stable_for must not have one.
 */
export const HEALTH_DEFAULTS = {
  path: "/",
  timeout: "30s",
  interval: "2s",
  retries: 3,
  stable_for: "5s",
} as const;

/** An optional field whose default is filled in after validation; the docs and the JSON Schema still show it. */
function defaultsLater<T extends z.ZodType>(schema: T, value: string | number) {
  return schema.optional().meta({ default: value });
}

export const healthSchema = mapping({
  path: defaultsLater(
    z
      .string({ error: "must be a URL path starting with /, like /healthz" })
      .startsWith("/", { error: "must be a URL path starting with /, like /healthz" })
      .describe(
        "HTTP path Skiff requests on the container port; any 2xx or 3xx answer is healthy.",
      ),
    HEALTH_DEFAULTS.path,
  ),
  timeout: defaultsLater(
    duration(
      "How long a new replica may take to become healthy during a deploy; past it the deploy fails and the old release keeps serving.",
    ),
    HEALTH_DEFAULTS.timeout,
  ),
  interval: defaultsLater(duration("Time between two checks."), HEALTH_DEFAULTS.interval),
  retries: defaultsLater(
    wholeNumber("Consecutive failed checks before a running replica counts as unhealthy.", 1),
    HEALTH_DEFAULTS.retries,
  ),
  host: hostname(
    "Host header sent with the check. Default: the service's first domain.",
  ).optional(),
  stable_for: defaultsLater(
    duration(
      "For a service without a health check (no x-skiff.port and no healthcheck:, such as a worker): a new replica is healthy once it has run this long without exiting or restarting. The other keys are the HTTP check, which needs x-skiff.port.",
    ),
    HEALTH_DEFAULTS.stable_for,
  ),
}).describe(
  "How a deploy decides a new replica is healthy. With x-skiff.port: an HTTP check against the container port (path, timeout, interval, retries, host); a web service gets one with these defaults even without this key, unless it has a Compose healthcheck. Without a port or a healthcheck: the replica has to keep running for stable_for.",
);

export const autoscaleSchema = mapping({
  min: wholeNumber("Fewest replicas to run.", 1).default(1),
  max: wholeNumber("Most replicas to run.", 1),
  cpu: wholeNumber(
    "Target average CPU use per replica, in percent of its CPU limit (or of one CPU without a limit).",
    1,
    100,
  ).default(70),
}).describe("Scale the replica count between min and max to keep average CPU near the target.");

export const budgetSchema = mapping({
  image: bytes(
    "Largest acceptable image size; a bigger image fails the build stage and names its largest layers.",
  ).optional(),
}).describe("Limits Skiff measures every build against.");

export const xSkiffServiceSchema = mapping({
  port: wholeNumber(
    "Container port the edge routes HTTP traffic to; without it, the first HTTP port of ports:. A service with a port is a web service.",
    1,
    65535,
  ).optional(),
  domains: z
    .array(hostname("A hostname routed to this service."), {
      error: "must be a list of hostnames",
    })
    .describe(
      "Hostnames the edge routes to this service. Default: APP.localhost for the app's only service with a port.",
    )
    .optional(),
  health: healthSchema.optional(),
  autoscale: autoscaleSchema.optional(),
  budget: budgetSchema.optional(),
}).describe("Skiff's settings for one service.");

export const xSkiffTestSchema = mapping({
  service: text("Service whose built image runs the command."),
  run: text("Command run with /bin/sh -c in a fresh container of that image."),
  cache: flag(
    "Skip the command when it already passed with the same containers from the same images (command, environment, settings, and the images of the services started next to it). false: run it on every push, for a test whose outcome depends on more than that (the network, the date).",
  )
    .optional()
    .meta({ default: true }),
}).describe("A test command; a non-zero exit fails the pipeline before anything is published.");

export const xSkiffAppSchema = mapping({
  test: z
    .array(xSkiffTestSchema, { error: "must be a list of {service, run} mappings" })
    .describe("Commands the test stage runs, in order, after the build and before publishing.")
    .optional(),
}).describe("Skiff's settings for the whole app.");

// ---------------------------------------------------------------------------
// Compose service keys.

const buildContext = text(
  "Directory holding the Dockerfile, relative to the spec file and inside the repository.",
  insideRepo,
);

export const buildSchema = section(
  mapping({
    context: buildContext.default("."),
    dockerfile: text("Dockerfile path relative to the context. Default: Dockerfile.").optional(),
    target: text("Stage of a multi-stage Dockerfile to build.").optional(),
    args: listOrMap(
      "Build arguments. An argument without a value takes it from the app's config.",
    ).optional(),
  })
    .superRefine((build, ctx) => {
      if (build.dockerfile === undefined) return;
      const context = repoPath(build.context);
      const shown = context.ok ? context.value : build.context;
      const inside =
        !build.dockerfile.startsWith("/") &&
        !posix
          .relative(build.context, posix.join(build.context, build.dockerfile))
          .startsWith("..");
      if (!inside) {
        ctx.addIssue({
          code: "custom",
          path: ["dockerfile"],
          message: `must be a path inside the build context (${shown}), because only the context is sent to the builder (got ${JSON.stringify(build.dockerfile)})`,
          params: SHOWS_VALUE,
        });
      }
    })
    .describe("Long form of build."),
  {
    dockerfile_inline: "keep the Dockerfile in the repository and name it with dockerfile:",
    ssh: "SSH forwarding needs a BuildKit session, which Skiff's builds do not open",
    secrets: "build secrets need a BuildKit session, which Skiff's builds do not open",
    cache_from:
      "Skiff picks cache sources itself: its warm builder cache and the previous release's image",
    cache_to: "Skiff keeps the build cache itself",
    no_cache: "builds always use the cache; change the Dockerfile step to invalidate it",
    pull: "Skiff does not pull base images from the internet",
    additional_contexts: "put everything the build needs inside the build context",
    network: "builds use Docker's default build network",
    labels: "add LABEL instructions to the Dockerfile",
    tags: "Skiff tags images with the app, service and release",
    platforms: "Skiff builds for the platform of its Docker Engine",
    shm_size: "",
    extra_hosts: "",
    isolation: "",
    privileged: "",
    ulimits: "",
    entitlements: "",
  },
);

const commandSchema = z
  .union([z.string(), z.array(ARG)], {
    error: "must be a command string or a list of strings",
  })
  .superRefine((value, ctx) => {
    if (typeof value !== "string") return;
    const split = splitCommand(value);
    if (!split.ok) ctx.addIssue({ code: "custom", message: split.error, params: SHOWS_VALUE });
  });

const healthTestSchema = z
  .union(
    [
      z.string(),
      z.array(ARG).min(1, { error: 'must not be empty; use ["NONE"] to disable the check' }),
    ],
    {
      error:
        'must be a shell command string or a list like ["CMD", "curl", "-f", "http://localhost/"]',
    },
  )
  .superRefine((value, ctx) => {
    if (!Array.isArray(value)) return;
    const first = value[0];
    if (first !== "CMD" && first !== "CMD-SHELL" && first !== "NONE") {
      ctx.addIssue({
        code: "custom",
        path: [0],
        message:
          "must be CMD (run the rest as a command), CMD-SHELL (run it with /bin/sh -c) or NONE (no check)",
      });
    } else if (first !== "NONE" && value.length < 2) {
      ctx.addIssue({
        code: "custom",
        message: `needs a command after ${first}, like ["${first}", "curl", "-f", "http://localhost/"]`,
        params: SHOWS_VALUE,
      });
    }
  })
  .describe(
    "Check command: a string runs with /bin/sh -c; a list starts with CMD, CMD-SHELL or NONE.",
  );

export const healthcheckSchema = section(
  mapping({
    test: healthTestSchema.optional(),
    interval: duration("Time between checks. Docker's default: 30s.").optional(),
    timeout: duration("Time one check may take. Docker's default: 30s.").optional(),
    retries: wholeNumber(
      "Consecutive failures before the container is unhealthy. Docker's default: 3.",
      0,
    ).optional(),
    start_period: duration("Time after start during which failures do not count.").optional(),
    disable: flag("true turns off the image's HEALTHCHECK.").optional(),
  }).describe(
    "Docker health check; a deploy waits for new replicas to be healthy before switching traffic.",
  ),
  {
    start_interval: "it needs Docker Engine 25 (API 1.44); Skiff supports Engine 20.10 and later",
  },
);

export const dependsOnEntrySchema = section(
  mapping({
    condition: oneOf(CONDITIONS, "What to wait for before starting this service.").default(
      "service_started",
    ),
  }).describe("Long form of one depends_on entry."),
  {
    restart: "Skiff does not restart dependents when a dependency restarts",
    required: "every dependency is required",
  },
);

const VOLUME_TYPES = ["volume", "bind", "tmpfs", "npipe", "cluster", "image"] as const;

/** A file mode: `0444` (octal, as Compose writes it), `"0440"`, `0o440` or a decimal number. */
const modeSchema = labelled(
  z
    .union([z.number(), z.string()], { error: "must be a file mode like 0444 or 0640" })
    .refine((v) => fileMode(v) !== undefined, { error: "must be a file mode like 0444 or 0640" })
    .describe("File mode, in octal like 0440."),
  "file mode",
);

export const bindOptionsSchema = section(
  mapping({
    propagation: text(
      "Mount propagation; it only concerns host paths, so it has no effect.",
    ).optional(),
    create_host_path: flag(
      "Create the host path if missing; no effect, as nothing of the host is mounted.",
    ).optional(),
    selinux: oneOf(
      ["z", "Z"],
      "SELinux relabelling; no effect, as nothing of the host is mounted.",
    ).optional(),
    recursive: text("Recursive read-only mounts; no effect.").optional(),
  }).describe("Options of a bind."),
  {},
);

export const volumeOptionsSchema = section(
  mapping({
    nocopy: flag("Do not copy the image's files at the target into a new volume.").optional(),
  }).describe("Options of a named volume."),
  { subpath: "mount the whole volume, or give the part its own volume" },
);

export const tmpfsOptionsSchema = section(
  mapping({
    size: bytes("Largest size of the tmpfs, like 64m.").optional(),
    mode: modeSchema.optional(),
  }).describe("Options of a tmpfs mount."),
  {},
);

export const volumeMountSchema = section(
  mapping({
    type: z
      .enum(VOLUME_TYPES, { error: "must be volume, bind or tmpfs" })
      .default("volume")
      .describe(
        "volume: a named volume (or, without source, an ephemeral one per replica); bind: a path of the repository (see Volumes and binds); tmpfs: memory-backed.",
      ),
    source: text("Volume name (type volume) or repository path (type bind).").optional(),
    target: text("Absolute path inside the container."),
    read_only: flag("Mount read-only.").optional(),
    bind: bindOptionsSchema.optional(),
    volume: volumeOptionsSchema.optional(),
    tmpfs: tmpfsOptionsSchema.optional(),
  })
    .superRefine((mount, ctx) => {
      const fail = (path: string[], message: string) =>
        ctx.addIssue({ code: "custom", path, message, params: SHOWS_VALUE });
      const badTarget = checkTarget(mount.target);
      if (badTarget) return fail(["target"], badTarget);
      const parsed = fromLongMount(mount);
      if (!parsed.ok) return fail(["type"], parsed.message);
      if (mount.type === "volume" && mount.source) {
        const badName = checkVolumeName(mount.source);
        if (badName) fail(["source"], badName);
      }
    })
    .describe("Long form of a volume mount."),
  { consistency: "it only concerns host paths", image: "" },
);

const volumeShortSchema = z.string().superRefine((value, ctx) => {
  const parsed = parseVolumeShort(value);
  if (!parsed.ok) ctx.addIssue({ code: "custom", message: parsed.message, params: SHOWS_VALUE });
});

export const envFileEntrySchema = section(
  mapping({
    path: text("Path of the file, relative to the spec file."),
    required: flag("false skips the file when it does not exist.").default(true),
  }).describe("Long form of one env_file entry."),
  { format: "env files are read in Compose's own KEY=VALUE format" },
);

const envFilePath = text("Path of an env file, relative to the spec file.", insideRepo);

export const limitsSchema = section(
  mapping({
    cpus: labelled(
      z
        .preprocess(
          toNumber,
          z
            .number({ error: "must be a number of CPUs greater than 0, like 0.5 or 2" })
            .positive({ error: "must be a number of CPUs greater than 0, like 0.5 or 2" }),
        )
        .describe("CPUs each replica may use, like 0.5."),
      "number > 0",
    ).optional(),
    memory: bytes("Memory each replica may use, like 512m; it is killed above it.", {
      bytes: 6 * 1024 * 1024,
      text: "6m (Docker's minimum)",
    }).optional(),
    pids: wholeNumber("Most processes and threads each replica may run.", -1).optional(),
  }).describe(
    "Resource limits for each replica. Without memory or pids, a replica gets Skiff's defaults (see Defaults).",
  ),
  { devices: "" },
);

export const resourcesSchema = section(
  mapping({ limits: limitsSchema.optional() }).describe("Resources of each replica."),
  { reservations: "Skiff caps replicas with limits; it does not reserve capacity" },
);

export const updateConfigSchema = section(
  mapping({
    order: oneOf(
      ["start-first", "stop-first"],
      "start-first starts new replicas before stopping old ones (no downtime); stop-first stops old ones first. Default: start-first, and stop-first for a stateful service.",
    ).optional(),
    failure_action: oneOf(
      ["rollback", "pause", "continue"],
      "What a deploy does when a new replica does not become healthy: rollback removes the new replicas and keeps the old release serving; pause stops the rollout where it is; continue goes on. Default: rollback.",
    ).optional(),
  }).describe("How a deploy replaces replicas."),
  {
    parallelism: "Skiff replaces replicas one at a time",
    delay: "",
    monitor: "",
    max_failure_ratio: "",
  },
);

export const restartPolicySchema = section(
  mapping({
    condition: oneOf(
      ["none", "on-failure", "any"],
      "When Docker restarts a replica's container: none, on-failure or any (as restart: no, on-failure, unless-stopped).",
    ).optional(),
    max_attempts: wholeNumber("With on-failure: restart at most this many times.", 0).optional(),
  }).describe("Swarm's restart policy, applied as the container's restart policy."),
  {
    delay: "Docker restarts with its own backoff",
    window: "Docker restarts with its own backoff",
  },
);

export const deploySchema = section(
  mapping({
    replicas: wholeNumber("Number of containers to run. Default: 1.", 0).optional(),
    restart_policy: restartPolicySchema.optional(),
    resources: resourcesSchema.optional(),
    update_config: updateConfigSchema.optional(),
  }).describe("How the service runs."),
  {
    mode: "every service is replicated; use replicas",
    endpoint_mode: "services reach each other by name on the app network",
    labels: "use labels: on the service",
    rollback_config: "a rollback redeploys an earlier release using update_config",
    placement: "",
  },
);

/** A `tmpfs:` entry: `/path` or `/path:size=64m,mode=1777`. */
const tmpfsEntry = (value: string): TextProblem => {
  const path = value.split(":")[0] ?? "";
  return path.startsWith("/")
    ? undefined
    : {
        message: `must start with an absolute path, like /tmp or /run:size=64m (got ${JSON.stringify(value)})`,
        showsValue: true,
      };
};

// Docker's ulimit names (`docker run --ulimit`, man 2 setrlimit without RLIMIT_).
const ULIMITS = new Set([
  "core",
  "cpu",
  "data",
  "fsize",
  "locks",
  "memlock",
  "msgqueue",
  "nice",
  "nofile",
  "nproc",
  "rss",
  "rtprio",
  "rttime",
  "sigpending",
  "stack",
]);

function networkModeProblem(mode: string): TextProblem {
  if (mode === "bridge" || mode === "default") return undefined;
  if (mode === "host") {
    return {
      message:
        "network_mode: host is refused: replicas never share the host's network namespace (DESIGN.md, Trust). Remove it, and publish the service's port with ports: (the edge routes it)",
      showsValue: true,
    };
  }
  if (mode === "none") {
    return {
      message:
        "network_mode: none is not supported: every replica is on the app network; remove it",
      showsValue: true,
    };
  }
  return {
    message: `network_mode ${JSON.stringify(mode)} is refused: replicas never share another container's network namespace; services reach each other by name on the app network, so remove it`,
    showsValue: true,
  };
}

export const portLongSchema = section(
  mapping({
    target: wholeNumber("Container port.", 1, 65535),
    published: labelled(
      z
        .union([z.number(), z.string()], { error: "must be a port or a range like 8080-8081" })
        .describe("Host port; read, not used: the edge routes HTTP to the container port."),
      "port or range",
    ).optional(),
    protocol: oneOf(["tcp", "udp", "sctp"], "Default: tcp.").optional(),
    host_ip: text("Host address; read, not used.").optional(),
    mode: oneOf(["host", "ingress"], "Swarm's publishing mode; read, not used.").optional(),
    name: text("A name for the port; documentation only.").optional(),
    app_protocol: text("The application protocol; documentation only.").optional(),
  }).describe("Long form of a ports entry."),
  {},
);

const portShortSchema = z
  .union([z.number(), z.string()], { error: "must be a port mapping like 8080:80" })
  .superRefine((value, ctx) => {
    const p = parsePortShort(value);
    if (!p.ok) ctx.addIssue({ code: "custom", message: p.message, params: SHOWS_VALUE });
  });

const RESTART = /^(?:no|always|unless-stopped|on-failure(?::\d+)?)$/;

export const networkAttachSchema = section(
  mapping({
    aliases: z
      .array(hostname("A name the service is also reached by on the app network."), {
        error: "must be a list of host names",
      })
      .describe("More names the service is reached by on the app network.")
      .optional(),
  }).describe("How the service joins a network; every network is the app's one network."),
  {
    ipv4_address: "Docker assigns addresses on the app network",
    ipv6_address: "Docker assigns addresses on the app network",
    link_local_ips: "",
    mac_address: "",
    priority: "",
    gw_priority: "",
    driver_opts: "",
    interface_name: "",
  },
);

/** One service-level `secrets:` or `configs:` entry in the long form. */
function fileReference(kind: "secret" | "config", target: string) {
  return section(
    mapping({
      source: text(`Name of a ${kind} declared under the top-level ${kind}s: key.`),
      target: text(target).optional(),
      uid: text("Owner's user id. Default: 0.").optional(),
      gid: text("Owner's group id. Default: 0.").optional(),
      mode: defaultsLater(modeSchema, "0444"),
    }).describe(`Long form of one ${kind}s entry.`),
    {},
  );
}

export const serviceSecretSchema = fileReference(
  "secret",
  "Path in the container; a relative path goes under /run/secrets. Default: /run/secrets/SOURCE.",
);
export const serviceConfigSchema = fileReference(
  "config",
  "Absolute path in the container. Default: /SOURCE.",
);

const SIGNAL = /^(?:SIG)?[A-Z][A-Z0-9+-]*$|^\d+$/;
const CAPABILITY = /^(?:CAP_)?[A-Z_]+$/i;

export const ulimitSchema = section(
  mapping({
    soft: wholeNumber("Soft limit; -1: unlimited.", -1),
    hard: wholeNumber("Hard limit; -1: unlimited.", -1),
  }).describe("A soft and a hard limit."),
  {},
);

export const extendsSchema = section(
  mapping({
    service: text("The service to extend, in this file."),
    file: text(
      "Another Compose file: not supported, Skiff reads one file (an error says so).",
    ).optional(),
  }).describe("Long form of extends."),
  {},
);

export const serviceSchema = section(
  mapping({
    build: z
      .union([buildContext, buildSchema], {
        error: "must be a build context path, or a mapping with context, dockerfile, target, args",
      })
      .describe(
        "Build the image from a Dockerfile: a context directory, or {context, dockerfile, target, args}.",
      )
      .optional(),
    image: text("Image to run; with build:, the name of the built image.", (s) =>
      isImageReference(s)
        ? undefined
        : {
            message:
              "must be an image reference like registry.example.com/team/api:1.4 (lowercase name, optional :tag or @digest)",
          },
    ).optional(),
    command: commandSchema
      .describe(
        "Overrides the image's CMD: a list, or a string split into words like Compose (no shell).",
      )
      .nullable()
      .optional(),
    entrypoint: commandSchema
      .describe("Overrides the image's ENTRYPOINT, in the same forms as command.")
      .nullable()
      .optional(),
    environment: listOrMap(
      "Environment variables. A variable without a value takes it from the app's config.",
    ).optional(),
    env_file: z
      .union(
        [
          envFilePath,
          z.array(
            z.union([envFilePath, envFileEntrySchema], {
              error: "must be a path or a mapping with path and required",
            }),
          ),
        ],
        { error: "must be a path or a list of paths" },
      )
      .describe("Files of KEY=VALUE lines, relative to the spec file; environment: wins over them.")
      .optional(),
    expose: z
      .array(
        z
          .union([z.number(), z.string()], { error: "must be a port like 3000 or 3000/udp" })
          .superRefine((value, ctx) => {
            const p = parseExpose(value);
            if (!p.ok) ctx.addIssue({ code: "custom", message: p.message, params: SHOWS_VALUE });
          }),
        { error: "must be a list of ports" },
      )
      .describe(
        "Ports other services use; documentation only, as every port is reachable on the app network.",
      )
      .optional(),
    healthcheck: healthcheckSchema.optional(),
    depends_on: z
      .union(
        [
          z.array(z.string({ error: "must be a service name" })),
          z.record(z.string(), dependsOnEntrySchema),
        ],
        { error: "must be a list of service names or a mapping of name: {condition}" },
      )
      .describe("Services to start first, and what to wait for.")
      .optional(),
    volumes: z
      .array(
        z.union([volumeShortSchema, volumeMountSchema], {
          error: "must be NAME:/path[:ro] or a mapping with type, source and target",
        }),
        { error: "must be a list of volume mounts" },
      )
      .describe("Named volumes to mount; a service with one is stateful.")
      .optional(),
    // `deploy:` with nothing under it is allowed in Compose.
    deploy: deploySchema.nullable().optional(),
    stop_grace_period: duration(
      "Time between SIGTERM and SIGKILL when a replica stops. Docker's default: 10s.",
    ).optional(),
    user: text("User (name or UID[:GID]) the process runs as.").optional(),
    working_dir: text("Working directory of the process.", (s) =>
      s.startsWith("/") ? undefined : { message: "must be an absolute path like /app" },
    ).optional(),
    ports: z
      .array(
        z.union([portShortSchema, portLongSchema], {
          error: "must be a port mapping like 8080:80 or a mapping with target",
        }),
        {
          error: "must be a list of port mappings",
        },
      )
      .describe(
        "Makes the service a web service: the edge routes HTTP to its first container port (or to x-skiff.port) at the app's domain. Well-known ports of databases, caches and brokers are not routed. The host side is not used: nothing is published on the host.",
      )
      .optional(),
    restart: text(
      "When Docker restarts a replica's container: no, always, on-failure[:N] or unless-stopped. Default: unless-stopped (always counts as unless-stopped, so a replica Skiff stopped stays stopped across a daemon restart).",
      (v) =>
        RESTART.test(v)
          ? undefined
          : { message: "must be no, always, on-failure, on-failure:N or unless-stopped" },
    ).optional(),
    init: flag(
      "Run Docker's init (docker-init) as PID 1, to forward signals and reap zombies.",
    ).optional(),
    stop_signal: text(
      "Signal that stops a replica, e.g. SIGQUIT. Default: the image's STOPSIGNAL, else SIGTERM.",
      (v) =>
        SIGNAL.test(v) ? undefined : { message: "must be a signal name like SIGQUIT, or a number" },
    ).optional(),
    read_only: flag("Make the container's root file system read-only.").optional(),
    tmpfs: z
      .union(
        [
          text("Path of a tmpfs mount.", tmpfsEntry),
          z.array(text("Path of a tmpfs mount.", tmpfsEntry), { error: "must be a list of paths" }),
        ],
        { error: "must be a path or a list of paths, each optionally with :OPTIONS" },
      )
      .describe("Memory-backed mounts, as /path or /path:size=64m,mode=1777.")
      .optional(),
    cap_drop: z
      .array(
        text("A Linux capability, like NET_RAW, or ALL.", (v) =>
          CAPABILITY.test(v)
            ? undefined
            : { message: "must be a capability name like NET_RAW or ALL" },
        ),
        { error: "must be a list of capabilities" },
      )
      .describe("Capabilities to remove from Docker's default set.")
      .optional(),
    security_opt: z
      .array(text("A security option."), { error: "must be a list of security options" })
      .describe(
        "Only no-new-privileges:true is applied; options that weaken isolation (seccomp:unconfined, apparmor:unconfined, label:disable) are never granted, and a warning names them.",
      )
      .optional(),
    shm_size: bytes("Size of /dev/shm, like 256m. Docker's default: 64m.").optional(),
    ulimits: z
      .record(
        z.string(),
        z.union([wholeNumber("Soft and hard limit; -1: unlimited.", -1), ulimitSchema], {
          error: "must be a number or a mapping with soft and hard",
        }),
        { error: "must be a mapping of limit names, like nofile: 65536" },
      )
      .superRefine((value, ctx) => {
        for (const name of Object.keys(value)) {
          if (!ULIMITS.has(name)) {
            ctx.addIssue({
              code: "custom",
              path: [name],
              message: `must be one of ${[...ULIMITS].join(", ")} (got ${JSON.stringify(name)})`,
              params: SHOWS_VALUE,
            });
          }
        }
      })
      .describe("Resource limits of the process, as nofile: 65536 or nofile: {soft, hard}.")
      .optional(),
    pids_limit: wholeNumber(
      "Most processes and threads each replica may run; as deploy.resources.limits.pids.",
      -1,
    ).optional(),
    mem_limit: bytes("Memory each replica may use; as deploy.resources.limits.memory.", {
      bytes: 6 * 1024 * 1024,
      text: "6m (Docker's minimum)",
    }).optional(),
    cpus: labelled(
      z
        .preprocess(
          toNumber,
          z
            .number({ error: "must be a number of CPUs greater than 0, like 0.5 or 2" })
            .positive({ error: "must be a number of CPUs greater than 0, like 0.5 or 2" }),
        )
        .describe("CPUs each replica may use; as deploy.resources.limits.cpus."),
      "number > 0",
    ).optional(),
    hostname: hostname(
      "The container's own host name; other services still reach it by its service name.",
    ).optional(),
    networks: z
      .union(
        [
          z.array(text("A network declared under the top-level networks: key."), {
            error: "must be a list of network names",
          }),
          z.record(z.string(), networkAttachSchema.nullable()),
        ],
        { error: "must be a list of network names or a mapping of name: {aliases}" },
      )
      .describe(
        "Networks to join. Every app has one network, so all of them are that one; aliases are names the service is also reached by.",
      )
      .optional(),
    network_mode: text(
      "Only bridge (the app network, as without the key). host, none and sharing another container's network are refused.",
      (v) => networkModeProblem(v),
    ).optional(),
    secrets: z
      .array(
        z.union([text("Name of a declared secret."), serviceSecretSchema], {
          error: "must be a secret name or a mapping with source",
        }),
        { error: "must be a list of secrets" },
      )
      .describe(
        "Secrets mounted as files under /run/secrets (mode 0444 unless mode: says otherwise).",
      )
      .optional(),
    configs: z
      .array(
        z.union([text("Name of a declared config."), serviceConfigSchema], {
          error: "must be a config name or a mapping with source",
        }),
        { error: "must be a list of configs" },
      )
      .describe("Configs mounted as files, at /NAME unless target: says otherwise (mode 0444).")
      .optional(),
    extends: z
      .union([text("The service to extend, in this file."), extendsSchema], {
        error: "must be a service name or a mapping with service",
      })
      .describe(
        "Start from another service of this file: mappings are merged, lists such as ports and volumes appended, other values replaced by this service's. profiles are not inherited.",
      )
      .optional(),
    profiles: z
      .array(text("A profile name."), { error: "must be a list of profile names" })
      .describe(
        "A service with profiles is not deployed, as with docker compose up without --profile; a warning names it.",
      )
      .optional(),
    labels: listOrMap("Docker labels on each container.", (key) =>
      key.startsWith("skiff.")
        ? `labels starting with "skiff." are Skiff's own: it finds its containers by them (got ${JSON.stringify(key)})`
        : undefined,
    ).optional(),
    "x-skiff": xSkiffServiceSchema.nullable().optional(),
  }).describe("One service: an image and its replicas."),
  {
    links: "services reach each other by service name on the app's own network",
    external_links: "services reach each other by service name on the app's own network",
    container_name:
      "Skiff names each replica's container itself, because replicas (and two releases side by side) need their own names",
    scale: "use deploy.replicas",
    volumes_from: "mount the same named volume instead",
    logging: "Skiff collects container logs itself (skiff logs)",
    pull_policy: "Skiff runs images from its own registry",
    volume_driver: "volumes use Docker's local driver",
    develop: "",
    sysctls: "",
    tty: "",
    stdin_open: "",
    platform: "",
    extra_hosts: "",
    dns: "",
    dns_opt: "",
    dns_search: "",
    domainname: "",
    mac_address: "",
    annotations: "",
    attach: "",
    blkio_config: "",
    cpu_count: "",
    cpu_percent: "",
    cpu_shares: "",
    cpu_period: "",
    cpu_quota: "",
    cpu_rt_runtime: "",
    cpu_rt_period: "",
    cpuset: "",
    cgroup_parent: "",
    credential_spec: "",
    gpus: "",
    group_add: "",
    isolation: "",
    label_file: "",
    mem_reservation: "",
    mem_swappiness: "",
    memswap_limit: "",
    models: "",
    oom_score_adj: "",
    post_start: "",
    pre_stop: "",
    provider: "",
    runtime: "",
    storage_opt: "",
    use_api_socket: "",
  },
  {
    privileged:
      "a privileged container is root on the host, so replicas never run privileged (DESIGN.md, Trust); the service runs without it",
    cap_add:
      "replicas never get capabilities beyond Docker's default set (DESIGN.md, Trust); the service runs without them",
    devices:
      "replicas never get devices of the host (DESIGN.md, Trust), so a release runs the same on any host",
    device_cgroup_rules: "replicas never get devices of the host (DESIGN.md, Trust)",
    pid: "replicas never share the host's or another container's process namespace (DESIGN.md, Trust)",
    ipc: "replicas never share the host's or another container's IPC namespace (DESIGN.md, Trust)",
    uts: "replicas never share the host's UTS namespace (DESIGN.md, Trust)",
    userns_mode: "replicas never share the host's user namespace (DESIGN.md, Trust)",
    cgroup: "replicas never share the host's cgroup namespace (DESIGN.md, Trust)",
    oom_kill_disable:
      "a replica above its memory limit is always killed, so one replica cannot starve the host",
  },
);

export const volumeSchema = section(
  mapping({}).describe("A named volume; Skiff creates it per app."),
  {
    name: "Skiff names volumes per app, so two apps never share one",
    driver: "volumes use Docker's local driver",
    driver_opts: "volumes use Docker's local driver",
    external: "Skiff creates and owns the app's volumes",
    labels: "",
  },
);

export const networkSchema = section(
  mapping({
    external: flag(
      "Refused: an app's services are on its own network only, never on one made outside Skiff.",
    )
      .refine((v) => v !== true, {
        error:
          "external networks are refused: an app's services are on the app's own network only, where they reach each other by name; remove external: true",
        params: SHOWS_VALUE,
      })
      .optional(),
  }).describe("A network. Every app has one network; several collapse into it, with a warning."),
  {
    name: "Skiff names the app's network itself",
    driver: "the app network is a bridge network",
    driver_opts: "the app network is a bridge network",
    attachable: "",
    enable_ipv6: "",
    ipam: "Docker assigns the app network's addresses",
    internal: "the app network is a normal bridge network, with outgoing access",
    labels: "",
  },
);

/** The top-level definition of a secret or a config. */
function fileDefinition(kind: "secret" | "config") {
  const shape = {
    file: text(
      `File of the repository holding the ${kind}, relative to the spec file.`,
      insideRepo,
    ).optional(),
    environment: text(
      `Variable whose value is the ${kind}: from the app's config (skiff config:set) over the .env file next to the spec, read when the release is made.`,
    ).optional(),
    external: flag("Refused: Skiff has no external secret store yet.").optional(),
  };
  const withContent =
    kind === "config"
      ? {
          ...shape,
          content: text("The config's content, written in the spec (interpolated).").optional(),
        }
      : shape;
  return section(
    mapping(withContent)
      .superRefine(
        (
          def: { file?: string; environment?: string; content?: string; external?: boolean },
          ctx,
        ) => {
          const sources = ["file", "environment", "content"].filter(
            (k) => def[k as keyof typeof def] !== undefined,
          );
          if (def.external === true) {
            ctx.addIssue({
              code: "custom",
              path: ["external"],
              message: `external ${kind}s are not supported: Skiff has no external secret store yet. Use file: (a file in the repository) or environment: (a variable set in .env)`,
              params: SHOWS_VALUE,
            });
          } else if (sources.length === 0) {
            ctx.addIssue({
              code: "custom",
              message: `needs ${kind === "config" ? "file:, environment: or content:" : "file: or environment:"}: where the ${kind}'s value comes from`,
              params: SHOWS_VALUE,
            });
          } else if (sources.length > 1) {
            ctx.addIssue({
              code: "custom",
              message: `must have one of ${sources.join(", ")}, not several`,
              params: SHOWS_VALUE,
            });
          }
        },
      )
      .describe(`A ${kind} services may mount as a file.`),
    {
      name: `Skiff names ${kind}s after their key`,
      labels: "",
      driver: "",
      driver_opts: "",
      template_driver: "",
    },
  );
}

export const secretSchema = fileDefinition("secret");
export const configSchema = fileDefinition("config");

export const composeSchema = section(
  mapping({
    services: z
      .record(z.string(), serviceSchema, {
        error: "must be a mapping of service names to services",
      })
      .describe(
        "The app's services, by name; a name is the service's hostname on the app network.",
      ),
    volumes: z
      .record(z.string(), volumeSchema.nullable(), {
        error: "must be a mapping of volume names",
      })
      .describe("Named volumes services may mount, as `name: {}` (or `name:`).")
      .nullable()
      .optional(),
    networks: z
      .record(z.string(), networkSchema.nullable(), { error: "must be a mapping of network names" })
      .describe(
        "Networks services may join. The app has one network: every name is that network (a warning says so when there are several).",
      )
      .nullable()
      .optional(),
    secrets: z
      .record(z.string(), secretSchema, { error: "must be a mapping of secret names" })
      .describe("Secrets services mount, each from file: or environment:.")
      .nullable()
      .optional(),
    configs: z
      .record(z.string(), configSchema, { error: "must be a mapping of config names" })
      .describe("Configs services mount, each from file:, environment: or content:.")
      .nullable()
      .optional(),
    "x-skiff": xSkiffAppSchema.nullable().optional(),
  }).describe("A Compose file with Skiff's x-skiff keys."),
  {
    version: "the version key is obsolete in Compose; remove it",
    name: "Skiff names the project after the app",
    include: "keep the whole app in one file",
    models: "",
  },
);

/** One part of the Compose file, for the reference docs. */
export interface ComposeSection {
  /** Where the keys sit, e.g. `services.NAME.deploy`. */
  path: string;
  schema: z.ZodType & { shape: Record<string, z.ZodType> };
}

/** Every object of the Compose file that has keys, in reading order. */
export const COMPOSE_SECTIONS: readonly ComposeSection[] = [
  { path: "(Top level)", schema: composeSchema },
  { path: "services.NAME", schema: serviceSchema },
  { path: "services.NAME.build", schema: buildSchema },
  { path: "services.NAME.healthcheck", schema: healthcheckSchema },
  { path: "services.NAME.depends_on.NAME", schema: dependsOnEntrySchema },
  { path: "services.NAME.ports[]", schema: portLongSchema },
  { path: "services.NAME.volumes[]", schema: volumeMountSchema },
  { path: "services.NAME.volumes[].bind", schema: bindOptionsSchema },
  { path: "services.NAME.volumes[].volume", schema: volumeOptionsSchema },
  { path: "services.NAME.volumes[].tmpfs", schema: tmpfsOptionsSchema },
  { path: "services.NAME.networks.NAME", schema: networkAttachSchema },
  { path: "services.NAME.secrets[]", schema: serviceSecretSchema },
  { path: "services.NAME.configs[]", schema: serviceConfigSchema },
  { path: "services.NAME.ulimits.NAME", schema: ulimitSchema },
  { path: "services.NAME.extends", schema: extendsSchema },
  { path: "services.NAME.env_file[]", schema: envFileEntrySchema },
  { path: "services.NAME.deploy", schema: deploySchema },
  { path: "services.NAME.deploy.restart_policy", schema: restartPolicySchema },
  { path: "services.NAME.deploy.resources", schema: resourcesSchema },
  { path: "services.NAME.deploy.resources.limits", schema: limitsSchema },
  { path: "services.NAME.deploy.update_config", schema: updateConfigSchema },
  { path: "volumes.NAME", schema: volumeSchema },
  { path: "networks.NAME", schema: networkSchema },
  { path: "secrets.NAME", schema: secretSchema },
  { path: "configs.NAME", schema: configSchema },
];

/** The x-skiff objects, for the reference docs and the JSON Schema. */
export const X_SKIFF_SECTIONS: readonly ComposeSection[] = [
  { path: "x-skiff", schema: xSkiffAppSchema },
  { path: "x-skiff.test[]", schema: xSkiffTestSchema },
  { path: "services.NAME.x-skiff", schema: xSkiffServiceSchema },
  { path: "services.NAME.x-skiff.health", schema: healthSchema },
  { path: "services.NAME.x-skiff.autoscale", schema: autoscaleSchema },
  { path: "services.NAME.x-skiff.budget", schema: budgetSchema },
];

/** The validated, not yet normalised shape of one service. */
export type ServiceInput = z.output<typeof serviceSchema>;
/** The validated shape of the whole file but its services. */
export type TopInput = z.output<ReturnType<typeof composeSchema.omit<{ services: true }>>>;
/** The validated shape of the top-level x-skiff key. */
export type XSkiffAppInput = z.output<typeof xSkiffAppSchema>;
