// Renders docs/SPEC.md from the schema, so the reference can never drift
// from what the parser accepts. A unit test compares the file with this
// output.

import { z } from "zod";
import { WRAPPERS } from "./keys.js";
import { SPEC_FILE_NAMES } from "./load.js";
import { DEFAULT_LIMITS } from "./plan.js";
import { NON_HTTP_PORTS, TLS_PORTS } from "./ports.js";
import {
  COMPOSE_SECTIONS,
  type ComposeSection,
  ignoredKeysOf,
  refusedKeysOf,
  typeLabelOf,
  X_SKIFF_SECTIONS,
} from "./schema.js";

interface Def {
  type: string;
  innerType?: z.ZodType;
  defaultValue?: unknown;
  in?: z.ZodType;
  out?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  entries?: Record<string, string>;
}

const def = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The field's description, type label and default, looking through optional/default/pipe wrappers. */
function field(schema: z.ZodType): { description: string; type: string; default?: unknown } {
  let s: z.ZodType | undefined = schema;
  let description: string | undefined;
  let fallback: unknown;
  let hasDefault = false;
  while (s) {
    description ??= s.description;
    const d = def(s);
    if (d.type === "default" && !hasDefault) {
      hasDefault = true;
      fallback = d.defaultValue;
    }
    // A default filled in after validation is recorded as metadata (see defaultsLater in schema.ts).
    const meta = z.globalRegistry.get(s);
    if (meta && "default" in meta && !hasDefault) {
      hasDefault = true;
      fallback = meta.default;
    }
    if (typeLabelOf(s) || !(WRAPPERS.has(d.type) || d.type === "pipe")) break;
    s = d.type === "pipe" ? (d.in && def(d.in).type === "transform" ? d.out : d.in) : d.innerType;
  }
  return {
    description: description ?? "",
    type: s ? typeName(s) : "",
    ...(hasDefault && { default: fallback }),
  };
}

function typeName(s: z.ZodType): string {
  const label = typeLabelOf(s);
  if (label) return label;
  const d = def(s);
  switch (d.type) {
    case "object":
    case "record":
      return "mapping";
    case "array":
      return d.element ? `list of ${plural(field(d.element).type)}` : "list";
    case "union":
      return (d.options ?? []).map((o) => field(o).type).join(" or ");
    case "enum":
      return Object.values(d.entries ?? {}).join(" | ");
    default:
      return d.type;
  }
}

const PLURALS: Record<string, string> = {
  mapping: "mappings",
  string: "strings",
  number: "numbers",
  hostname: "hostnames",
};

function plural(type: string): string {
  return type
    .split(" or ")
    .map((t) => PLURALS[t] ?? t)
    .join(" or ");
}

function heading(path: string): string {
  return path.startsWith("(") ? `### ${path.slice(1, -1)}` : `### \`${path}\``;
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function code(value: unknown): string {
  return `\`${typeof value === "string" ? value : JSON.stringify(value)}\``;
}

function xSkiffTable(section: ComposeSection): string[] {
  const lines = [
    heading(section.path),
    "",
    section.schema.description ?? "",
    "",
    "| key | type | default | description |",
    "|---|---|---|---|",
  ];
  for (const [key, schema] of Object.entries(section.schema.shape)) {
    const f = field(schema);
    const fallback = f.default === undefined ? "" : code(f.default);
    lines.push(`| \`${key}\` | ${cell(f.type)} | ${fallback} | ${cell(f.description)} |`);
  }
  lines.push("");
  return lines;
}

function composeTable(section: ComposeSection): string[] {
  const lines = [heading(section.path), "", section.schema.description ?? "", ""];
  const keys = Object.entries(section.schema.shape);
  if (keys.length === 0) lines.push("No keys of its own: declaring the name is enough.");
  else lines.push("| key | type | what Skiff does |", "|---|---|---|");
  for (const [key, schema] of keys) {
    const f = field(schema);
    const fallback = f.default === undefined ? "" : ` Default: ${code(f.default)}.`;
    const what = key === "x-skiff" ? "Skiff's own keys: see above." : `${f.description}${fallback}`;
    lines.push(`| \`${key}\` | ${cell(f.type)} | ${cell(what)} |`);
  }
  const ignored = Object.entries(ignoredKeysOf(section.schema) ?? {});
  if (ignored.length > 0) {
    lines.push("", "Ignored with a warning:", "");
    const plain = ignored.filter(([, advice]) => advice === "").map(([key]) => `\`${key}\``);
    for (const [key, advice] of ignored) {
      if (advice !== "") lines.push(`- \`${key}\`: ${advice}.`);
    }
    if (plain.length > 0) lines.push(`- not supported: ${plain.join(", ")}.`);
  }
  const refused = Object.entries(refusedKeysOf(section.schema) ?? {});
  if (refused.length > 0) {
    lines.push("", "Never granted, with a warning:", "");
    for (const [key, reason] of refused) lines.push(`- \`${key}\`: ${reason}.`);
  }
  lines.push("");
  return lines;
}

// Compose's `${...}` forms, written literally, not as template placeholders.
// biome-ignore-start lint/suspicious/noTemplateCurlyInString: literal Compose syntax
const INTERPOLATION_TABLE = [
  "| form | value |",
  "|---|---|",
  "| `$VAR`, `${VAR}` | the variable; unset: an empty string and a warning |",
  "| `${VAR:-default}` | `default` when VAR is unset or empty |",
  "| `${VAR-default}` | `default` when VAR is unset |",
  "| `${VAR:?message}` | an error with `message` when VAR is unset or empty |",
  "| `${VAR?message}` | an error with `message` when VAR is unset |",
  "| `${VAR:+alternative}` | `alternative` when VAR is set and not empty, else empty |",
  "| `${VAR+alternative}` | `alternative` when VAR is set, else empty |",
  "| `$$` | a literal `$` |",
  "",
  "Numbers and booleans may be written as strings, so `replicas: ${REPLICAS:-2}` works.",
];
// biome-ignore-end lint/suspicious/noTemplateCurlyInString: literal Compose syntax

/** Renders the app spec reference (docs/SPEC.md) from the schema. */
export function renderSpecReference(): string {
  const lines: string[] = [
    "# App spec reference",
    "",
    "<!-- Generated from src/spec/schema.ts by renderSpecReference(); do not edit by hand.",
    "     Regenerate: npm run build && node dist/spec/write-reference.js -->",
    "",
    "An app's spec is the Compose file at the root of its repository, plus `x-skiff` keys.",
    `Skiff reads the first of ${SPEC_FILE_NAMES.map((n) => `\`${n}\``).join(", ")} (Compose's order) and warns about the others.`,
    "",
    "Problems are reported all at once, each as `file:line:column path: message`, for example",
    '`compose.yaml:12:7 services.web.deploy.replicas: must be a whole number ≥ 0 (got "two")`.',
    "An error stops the deploy and the running release keeps serving; a warning does not.",
    "",
    "- Compose keys Skiff honours are listed below with what it does with them.",
    "- Compose keys Skiff knows but does not honour give a warning naming the key and what to use instead.",
    "- Keys starting with `x-` are ignored, as the Compose Specification says (except `x-skiff` where it is read).",
    "- Any other key is an error, with a suggestion when it looks like a typo.",
    "",
    "## Variables",
    "",
    "Every string value may use Compose interpolation. Variables come from the app's config",
    "(`skiff config:set`, see the README) over a `.env` file next to the spec (a `skiff deploy`",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: literal Compose syntax
    "upload carries it too); `${PWD}` is the repository's root, as Compose takes it for the",
    "project's directory. The control plane's own environment is never read. The config's",
    "app-wide vars also go into the environment of every service built from the repository,",
    "and a service's own vars (`--service`) into its environment.",
    "",
    ...INTERPOLATION_TABLE,
    "Durations are Go/Compose durations (`1m30s`, `10s`, `500ms`, `2h45m`); sizes are Compose sizes",
    "(`512m`, `1g`, `100MB`, `2kb`, or a number of bytes), in binary units: `1g` = `1GB` = 1024³ bytes.",
    "",
    "## x-skiff keys",
    "",
    "A JSON Schema of these keys for editors comes from `xSkiffJsonSchema()` in `src/spec`.",
    "",
  ];
  for (const section of X_SKIFF_SECTIONS) lines.push(...xSkiffTable(section));
  lines.push("## Compose keys", "");
  for (const section of COMPOSE_SECTIONS) lines.push(...composeTable(section));
  const nonHttp = [...NON_HTTP_PORTS.keys()].sort((a, b) => a - b).join(", ");
  lines.push(
    "## Ports and routes",
    "",
    '- `ports:` makes a service a web service: the edge routes HTTP to its first container port (the part after the last `:`), or to `x-skiff.port` when set. Every form is read: `"8080:80"`, `"127.0.0.1:8080:80/tcp"`, `"80"`, ranges, and the long form `{target, published, protocol, host_ip, mode}`.',
    "- The host side of a mapping is not used: nothing is published on the host. The edge routes HTTP, and every port of a service is reachable by other services as `SERVICE:PORT` on the app network, as in Compose.",
    `- Not routed, with a warning saying how other services reach them: UDP and SCTP ports, HTTPS ports (${[...TLS_PORTS].join(", ")}; the edge terminates TLS itself), and well-known ports of protocols other than HTTP: ${nonHttp}.`,
    "- A service's other published ports are not routed either; a warning names them (set `x-skiff.port` to route another).",
    "- Services with a port and no `x-skiff.domains` share out the app's addresses: the one published on the host's port 80 or 443 (else the first in file order) gets `APP.localhost`, each other one `SERVICE.APP.localhost` (`_` in a service name becomes `-`).",
    "- A spec in which no service has a port to route gets a warning: nothing will be reachable from outside.",
    "",
    "## Volumes and binds",
    "",
    "A release runs from its image on any host, and a commit is input, so a bind is never a bind of the host:",
    "",
    "- A read-only bind of a file or directory of the repository (`./nginx.conf:/etc/nginx/nginx.conf:ro`) becomes files the release puts into each container. A writable bind of a file does too, with a warning: what the container writes there is lost with the replica.",
    "- A bind of the service's own build context, or of a directory inside it (`.:/code`), is dropped with a warning: the image already holds those files.",
    "- A writable bind of another directory of the repository, or of one the commit does not hold (`./data:/var/lib/mysql`), becomes a named volume named after the path (`data`, `data-mysql`; `-2` is added on a clash with a declared volume), with a warning. It makes the service stateful, like any named volume.",
    "- A read-only bind of a path the commit does not hold, a path that leaves the repository (`..`, or a symbolic link out of it), host paths (`/srv/x`, `~/x`), host devices and the Docker socket are refused with an error. `/etc/localtime` and `/etc/timezone` are not mounted, with a warning: set the `TZ` environment variable instead.",
    "- An anonymous volume (`/app/node_modules`, or `type: volume` without `source`) is ephemeral: a fresh volume per replica, removed with it. It does not make the service stateful.",
    "- Modes `ro`, `rw`, `z`, `Z`, `nocopy` and the propagation and consistency options are accepted, alone or combined (`ro,z`). `nocopy` (or `volume: {nocopy: true}`) makes a new named volume start empty instead of with the image's files at its target; the SELinux and propagation options concern host paths only, so they have no effect.",
    "- `tmpfs:` and `type: tmpfs` mounts are memory-backed, with their size and mode.",
    "",
    "## Secrets and configs",
    "",
    "- A secret is mounted at `/run/secrets/NAME` (a relative `target` goes under `/run/secrets`), a config at `/NAME` or its `target`, both with mode `0444` unless `mode` says otherwise, owned by `uid`/`gid` when set.",
    "- The value comes from `file:` (a file of the repository, checked to exist inside it), `environment:` (a variable of the app's config over `.env`, read at deploy time) or, for configs, `content:`.",
    "- `external: true` is refused: Skiff has no external secret store yet.",
    "",
    "## Defaults",
    "",
    `- Every replica gets a memory limit of ${DEFAULT_LIMITS.memoryBytes / 1024 / 1024} MiB and a limit of ${DEFAULT_LIMITS.pids} processes and threads unless the spec sets its own (\`deploy.resources.limits.memory\` or \`mem_limit\`, \`deploy.resources.limits.pids\` or \`pids_limit\`), so that one replica cannot take the host down. No limit at all (\`-1\`, \`0\`) is not granted.`,
    "- Restart policy: `unless-stopped` (also for `restart: always`, so that a replica Skiff stopped stays stopped when the daemon restarts).",
    "- Replicas never run privileged and never get added capabilities, host namespaces or host devices; only `no-new-privileges:true` of `security_opt` is applied.",
    "",
    "## Rules across keys",
    "",
    "- Every service has `build` or `image`. With both, Skiff builds the image and tags it with the `image` name.",
    "- Service names hold letters and digits separated by `-` or `_` (at most 63 characters): they are hostnames on the app network (which ignores case) and, lowercased, part of the image's name; two names differing only in case are refused.",
    "- `extends` names a service of the same file (another file is refused); a service with `profiles` is not deployed, and `depends_on` entries on it are dropped, with warnings.",
    "- A file holds one YAML document. A problem in a value shared through a YAML anchor is reported once, naming each place that uses it.",
    "- `depends_on` names services of the file, without cycles; `condition: service_healthy` needs a health check on the dependency.",
    "- Named volumes are declared under the top-level `volumes:` key; networks a service joins under `networks:`. An app has one network, so several declared networks are all that network (a warning says so).",
    "- A service with a named volume is stateful: at most one replica, no autoscale, replaced stop-first.",
    "- `x-skiff.domains` and `x-skiff.health` (its HTTP check: every key but `stable_for`) need a port (`ports:` or `x-skiff.port`); a domain goes to one service only.",
    "- `x-skiff.health.stable_for` is for a service without a health check (no port, no enabled `healthcheck:`), such as a worker: its new replicas are healthy once they have run that long (default `5s`) without exiting or restarting. A deploy fails at once when one exits or restarts.",
    "- `x-skiff.autoscale`: `min` ≤ `max`; `deploy.replicas`, when set, lies between them (default: `min`). Skiff does not scale on CPU yet, and does not check `x-skiff.budget` yet: both give a warning saying so.",
    "- `x-skiff.test[].service` names a service of the file.",
    "- The string form of `command`/`entrypoint` is split into words as Compose does, without a shell; shell operators (`&&`, `|`, `;`, `>`) are refused with the list form to use instead.",
    "- Paths (build context, dockerfile, env_file, secret and config files, binds) stay inside the repository: Skiff builds from the pushed commit, not from the host.",
    "- No error quotes a file's content beyond the offending token; an env file line that is not an assignment is skipped with a warning naming its line, not its text.",
    "",
  );
  return lines.join("\n");
}
