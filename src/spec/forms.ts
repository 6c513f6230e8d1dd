// Parsers for the small string formats inside a Compose file: volume short
// syntax, exposed ports, image references, hostnames and repository paths.
// Each returns a value or the message to show; the schema uses them to
// validate and the normaliser to convert, so both agree by construction.

import { posix } from "node:path";

/** Outcome of parsing one formatted string. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

/** A named volume mounted into a service's containers. */
export interface VolumeMount {
  /** Name of a volume declared under the top-level `volumes:` key. */
  source: string;
  /** Absolute path inside the container. */
  target: string;
  readOnly: boolean;
  /** `nocopy`: a new volume starts empty instead of with the image's files at the target. */
  noCopy?: boolean;
}

const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Checks a volume name the way Docker does (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`). */
export function checkVolumeName(name: string): string | undefined {
  return VOLUME_NAME.test(name)
    ? undefined
    : `volume names may hold letters, digits, _ . and -, and must start with a letter or digit (got ${JSON.stringify(name)})`;
}

/** Checks a mount target: an absolute container path. */
export function checkTarget(target: string): string | undefined {
  return target.startsWith("/")
    ? undefined
    : `the container path must be absolute, like /data (got ${JSON.stringify(target)})`;
}

/** Parses an `expose:` entry (`3000`, `3000/udp`, `8000-8002`) into `port/protocol` strings. */
export function parseExpose(entry: string | number): Parsed<string[]> {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/.exec(String(entry).trim());
  const bad: Parsed<string[]> = {
    ok: false,
    message: `must be a port like 3000, 3000/udp or a range like 8000-8002 (got ${JSON.stringify(entry)})`,
  };
  if (!m) return bad;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (from < 1 || to > 65535 || to < from || to - from > 1000) return bad;
  const protocol = m[3] ?? "tcp";
  const out: string[] = [];
  for (let p = from; p <= to; p++) out.push(`${p}/${protocol}`);
  return { ok: true, value: out };
}

// docker/distribution's reference grammar: [host[:port]/]path[:tag][@digest].
const DOMAIN_PART = "(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])";
const DOMAIN = `(?:${DOMAIN_PART}(?:\\.${DOMAIN_PART})*(?::[0-9]+)?)`;
const PATH_PART = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const IMAGE_REFERENCE = new RegExp(
  `^(?:${DOMAIN}/)?${PATH_PART}(?:/${PATH_PART})*(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`,
);

/** Whether `text` is a Docker image reference such as `registry:5000/team/api:1.4`. */
export function isImageReference(text: string): boolean {
  return text.length <= 255 && IMAGE_REFERENCE.test(text);
}

const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** Whether `text` is a DNS hostname (no scheme, port or path). */
export function isHostname(text: string): boolean {
  return HOSTNAME.test(text);
}

// A service name is a host name on the app network and, lowercased, a path
// component of its image's repository name (`APP/SERVICE` in the registry),
// so it must be both: letters and digits, separated by `-` (any number), `_`
// or `__`, as the distribution spec's path-component grammar allows. Compose
// allows capitals (`Backend`); Docker's DNS on the app network answers names
// whatever their case (measured on Engine 20.10: `wget http://backend/` reached
// a container whose alias is `Backend`), so they are kept as written.
const SERVICE_NAME = /^[a-z0-9]+(?:(?:_|__|-+)[a-z0-9]+)*$/i;

/** Whether `name` may name a service: a host name on the app network and a registry path component. */
export function isServiceName(name: string): boolean {
  return name.length <= 63 && SERVICE_NAME.test(name);
}

/** A valid service name close to `name`, to suggest in the error. */
export function toServiceName(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, "-")
      .replace(/_{3,}/g, "__")
      .replace(/[-_]*_[-_]*/g, (m) => (m.includes("-") ? "-" : m))
      .replace(/^[-_]+|[-_]+$/g, "")
      .slice(0, 63)
      .replace(/[-_]+$/, "") || "web"
  );
}

/** The DNS label for a service in a host name (`SERVICE.APP.localhost`): `_` is not valid there, so it becomes `-`. */
export function serviceHostLabel(name: string): string {
  return name.replace(/_+/g, "-").toLowerCase();
}

/**
 * Normalises a path that must stay inside the repository (build context,
 * env_file): Skiff builds and reads from the pushed commit, never from the
 * host, so absolute paths, `..` escapes and URLs cannot work.
 */
export function repoPath(text: string): Parsed<string> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text) || text.startsWith("git@")) {
    return {
      ok: false,
      message: `must be a directory in this repository; Skiff builds from the pushed commit, not from a URL (got ${JSON.stringify(text)})`,
    };
  }
  if (text.startsWith("/") || text.startsWith("~") || /^[A-Za-z]:[\\/]/.test(text)) {
    return {
      ok: false,
      message: `must be a path relative to the spec file, inside the repository (got ${JSON.stringify(text)})`,
    };
  }
  const normal = posix.normalize(text === "" ? "." : text).replace(/\/+$/, "") || ".";
  if (normal === ".." || normal.startsWith("../")) {
    return {
      ok: false,
      message: `must stay inside the repository; Skiff only has the pushed commit (got ${JSON.stringify(text)})`,
    };
  }
  return { ok: true, value: normal };
}
