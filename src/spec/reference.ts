// Renders docs/SPEC.md from the schema, so the reference can never drift
// from what the parser accepts. A unit test compares the file with this
// output.

import { z } from "zod";
import { WRAPPERS } from "./keys.js";
import { SPEC_FILE_NAMES } from "./load.js";
import {
  COMPOSE_SECTIONS,
  type ComposeSection,
  ignoredKeysOf,
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
    "(`skiff config:set`) merged over a `.env` file next to the spec.",
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
  lines.push(
    "## Rules across keys",
    "",
    "- Every service has `build` or `image`. With both, Skiff builds the image and tags it with the `image` name.",
    "- Service names are DNS labels (lowercase letters, digits and `-`, at most 63 characters, no `-` at either end): they are hostnames on the app network.",
    "- `depends_on` names services of the file, without cycles; `condition: service_healthy` needs a health check on the dependency.",
    "- Only named volumes, declared under the top-level `volumes:` key. Bind mounts are refused: a release runs from its image and named volumes, so that it can run on any host.",
    "- A service with a named volume is stateful: at most one replica, no autoscale, replaced stop-first.",
    "- `x-skiff.domains` and `x-skiff.health` (its HTTP check: every key but `stable_for`) need `x-skiff.port`; a domain goes to one service only.",
    "- `x-skiff.health.stable_for` is for a service without a health check (no `x-skiff.port`, no enabled `healthcheck:`), such as a worker: its new replicas are healthy once they have run that long (default `5s`) without exiting or restarting. A deploy fails at once when one exits or restarts.",
    "- The app's only service with a port gets `<app>.localhost` when it has no domains; another service with a port and no domains gets no route (a warning says so).",
    "- `x-skiff.autoscale`: `min` ≤ `max`; `deploy.replicas`, when set, lies between them (default: `min`).",
    "- `x-skiff.test[].service` names a service of the file.",
    "- The string form of `command`/`entrypoint` is split into words as Compose does, without a shell; shell operators (`&&`, `|`, `;`, `>`) are refused with the list form to use instead.",
    "- Paths (build context, dockerfile, env_file) stay inside the repository: Skiff builds from the pushed commit, not from the host.",
    "",
  );
  return lines.join("\n");
}
