// Compose `volumes:` entries, short and long syntax, and what each becomes in
// a release. A release runs from its image on any host and a commit is input
// (DESIGN.md, Trust), so a bind is never a bind: a read-only bind of the
// repository becomes files the release puts into each container, a bind of
// the service's own build context is a development overlay the image already
// holds, a writable or missing repository directory becomes a named volume,
// and host paths stay refused.

import { posix } from "node:path";
import { checkTarget, checkVolumeName, type Parsed, repoPath } from "./forms.js";
import type { SpecTree, TreeEntryKind } from "./tree.js";
import type { PlanFile, VolumeMount } from "./types.js";
import { parseBytes } from "./units.js";

/** A mount as written, before Skiff decides what it becomes. */
export type WrittenMount =
  | { type: "volume"; source: string; target: string; readOnly: boolean; noCopy?: boolean }
  | { type: "anonymous"; target: string }
  | { type: "bind"; source: string; target: string; readOnly: boolean }
  | { type: "tmpfs"; target: string; options: string };

// Docker's short-syntax mode options (`docker run -v`): access, SELinux relabelling, copy, and
// propagation/consistency, which only mean something for a bind on the host, so they are accepted.
const MODE_OPTIONS = new Set([
  "ro",
  "rw",
  "z",
  "Z",
  "nocopy",
  "consistent",
  "cached",
  "delegated",
  "shared",
  "rshared",
  "slave",
  "rslave",
  "private",
  "rprivate",
]);

// Compose treats a source as a host path when it looks like one: relative
// (`.`), absolute (`/`), home (`~`), a Windows drive, or anything with a slash.
function isHostPath(source: string): boolean {
  return /^[./~]/.test(source) || /^[A-Za-z]:[\\/]/.test(source) || source.includes("/");
}

/** Parses `[SOURCE:]TARGET[:MODE]`; the mode is a comma list of ro, rw, z, Z, nocopy and the like. */
export function parseVolumeShort(text: string): Parsed<WrittenMount> {
  let parts = text.split(":");
  // A Windows drive (`C:\data:/data`) holds a colon of its own.
  if (/^[A-Za-z]$/.test(parts[0] ?? "") && /^[\\/]/.test(parts[1] ?? "")) {
    parts = [`${parts[0]}:${parts[1]}`, ...parts.slice(2)];
  }
  if (parts.length === 1) {
    const bad = checkTarget(text);
    return bad
      ? { ok: false, message: bad }
      : { ok: true, value: { type: "anonymous", target: text } };
  }
  if (parts.length > 3) {
    return {
      ok: false,
      message: `must be SOURCE:/container/path or SOURCE:/container/path:MODE (got ${JSON.stringify(text)})`,
    };
  }
  const [source = "", target = "", mode] = parts;
  const badTarget = checkTarget(target);
  if (badTarget) return { ok: false, message: badTarget };
  const options = mode === undefined ? [] : mode.split(",");
  const unknown = options.find((o) => !MODE_OPTIONS.has(o));
  if (unknown !== undefined) {
    return {
      ok: false,
      message: `the mode after the last : must be a comma list of ro, rw, z, Z, nocopy (got ${JSON.stringify(mode)})`,
    };
  }
  const readOnly = options.includes("ro");
  if (isHostPath(source)) return { ok: true, value: { type: "bind", source, target, readOnly } };
  const badName = checkVolumeName(source);
  if (badName) return { ok: false, message: badName };
  const noCopy = options.includes("nocopy");
  return {
    ok: true,
    value: { type: "volume", source, target, readOnly, ...(noCopy && { noCopy }) },
  };
}

/** The long syntax after validation (see volumeMountSchema). */
export interface LongMount {
  type: "volume" | "bind" | "tmpfs" | "npipe" | "cluster" | "image";
  source?: string | undefined;
  target: string;
  read_only?: boolean | undefined;
  volume?: { nocopy?: boolean | undefined } | undefined;
  tmpfs?: { size?: string | number | undefined; mode?: string | number | undefined } | undefined;
}

/** Turns the long syntax into a WrittenMount; npipe, cluster and image mounts have no place in a release. */
export function fromLongMount(m: LongMount): Parsed<WrittenMount> {
  const readOnly = m.read_only ?? false;
  switch (m.type) {
    case "volume":
      return m.source === undefined || m.source === ""
        ? { ok: true, value: { type: "anonymous", target: m.target } }
        : {
            ok: true,
            value: {
              type: "volume",
              source: m.source,
              target: m.target,
              readOnly,
              ...(m.volume?.nocopy && { noCopy: true }),
            },
          };
    case "bind":
      if (m.source === undefined || m.source === "") {
        return { ok: false, message: "a bind needs a source: the path to mount" };
      }
      return { ok: true, value: { type: "bind", source: m.source, target: m.target, readOnly } };
    case "tmpfs":
      return {
        ok: true,
        value: {
          type: "tmpfs",
          target: m.target,
          options: tmpfsOptions(m.tmpfs?.size, m.tmpfs?.mode),
        },
      };
    default:
      return {
        ok: false,
        message: `type ${m.type} cannot be mounted into a release: use volume (a named volume), bind (files of the repository) or tmpfs`,
      };
  }
}

/** Docker's tmpfs option string (`size=67108864,mode=1777`) from Compose's size and mode. */
export function tmpfsOptions(size: string | number | undefined, mode: string | number | undefined) {
  const out: string[] = [];
  if (size !== undefined) out.push(`size=${parseBytes(size) ?? size}`);
  if (mode !== undefined) out.push(`mode=${fileMode(mode)?.toString(8) ?? mode}`);
  return out.join(",");
}

/**
 * A file mode as Compose writes it: `0440` (which YAML 1.2 reads as the
 * number 440), `"0440"`, `0o440`, or a decimal number (`288`). Digits that
 * are all octal and at most 7777 are read as octal, as Compose's YAML 1.1
 * parser does.
 */
export function fileMode(value: string | number): number | undefined {
  const text = String(value).trim();
  let n: number | undefined;
  if (/^0o[0-7]+$/i.test(text)) n = Number.parseInt(text.slice(2), 8);
  else if (/^[0-7]{1,4}$/.test(text)) n = Number.parseInt(text, 8);
  else if (/^\d+$/.test(text)) n = Number(text);
  return n !== undefined && n <= 0o7777 ? n : undefined;
}

/** What one mount becomes in the release. */
export type MountOutcome =
  | { type: "volume"; mount: VolumeMount }
  | { type: "file"; file: PlanFile }
  | { type: "ephemeral"; target: string }
  | { type: "tmpfs"; target: string; options: string }
  | { type: "dropped" }
  | { type: "refused" };

/** A problem to report at the mount. */
export interface MountNote {
  severity: "error" | "warning";
  message: string;
}

/** What classifying a mount needs: the tree, the service's build context, and the app's volume names. */
export interface MountContext {
  service: string;
  tree: SpecTree;
  /** The service's normalised build context, if it builds. */
  buildContext?: string;
  /** Names a repository directory becomes as a named volume: shared across services, never clashing with declared ones. */
  volumeNameFor(repoPath: string): string;
}

/** Why a path of the tree is not usable, in the words users read; never the path's content. */
export function treeProblem(kind: TreeEntryKind, path: string): string | undefined {
  const shown = JSON.stringify(path);
  if (kind === "outside") {
    return `${shown} resolves outside the repository (a symbolic link leads out of it); Skiff reads only files inside the pushed tree`;
  }
  if (kind === "other") {
    return `${shown} is not a file or a directory (a device, socket, FIFO or a loop of symbolic links)`;
  }
  return undefined;
}

const DOCKER_SOCKETS = new Set(["/var/run/docker.sock", "/run/docker.sock"]);
const TIME_FILES = new Set(["/etc/localtime", "/etc/timezone"]);

/** Decides what a written mount becomes; notes say why when it is not mounted as written. */
export function classifyMount(
  mount: WrittenMount,
  ctx: MountContext,
): { outcome: MountOutcome; notes: MountNote[] } {
  const done = (outcome: MountOutcome, ...notes: MountNote[]) => ({ outcome, notes });
  switch (mount.type) {
    case "volume":
      return done({
        type: "volume",
        mount: {
          source: mount.source,
          target: mount.target,
          readOnly: mount.readOnly,
          ...(mount.noCopy && { noCopy: true }),
        },
      });
    case "anonymous":
      return done(
        { type: "ephemeral", target: mount.target },
        {
          severity: "warning",
          message: `anonymous volume ${mount.target} is ephemeral: each replica gets a fresh, empty one, removed with it, so nothing written there outlives the replica. Name it (e.g. data:${mount.target}, declared under the top-level volumes:) to keep its data`,
        },
      );
    case "tmpfs":
      return done({ type: "tmpfs", target: mount.target, options: mount.options });
    case "bind":
      return classifyBind(mount, ctx);
  }
}

function classifyBind(
  mount: Extract<WrittenMount, { type: "bind" }>,
  ctx: MountContext,
): { outcome: MountOutcome; notes: MountNote[] } {
  const refuse = (message: string) => ({
    outcome: { type: "refused" } as MountOutcome,
    notes: [{ severity: "error" as const, message }],
  });
  const source = mount.source;
  if (/^[/~]/.test(source) || /^[A-Za-z]:[\\/]/.test(source)) {
    const path = posix.normalize(source.replace(/\\/g, "/"));
    if (DOCKER_SOCKETS.has(path) || path.endsWith("/docker.sock")) {
      return refuse(
        "the Docker socket is never mounted into a replica: with it the container could start a privileged container and so become root on the host (DESIGN.md, Trust). Skiff itself deploys and routes the app's services",
      );
    }
    if (TIME_FILES.has(path)) {
      return {
        outcome: { type: "dropped" },
        notes: [
          {
            severity: "warning",
            message: `${path} of the host is not mounted: Skiff never mounts host files into a replica, so the container keeps its image's time zone (usually UTC); set the TZ environment variable instead (e.g. TZ: Europe/Berlin)`,
          },
        ],
      };
    }
    if (path === "/dev" || path.startsWith("/dev/")) {
      return refuse(
        `${JSON.stringify(source)} is a host device: replicas never get devices of the host (DESIGN.md, Trust), so a release runs the same on any host`,
      );
    }
    return refuse(
      `${JSON.stringify(source)} is a path on the host: Skiff never mounts host paths into a replica, because a release must run the same on any host and a commit must not reach the host's files. Keep the files in the repository and mount them read-only (./path:${mount.target}:ro), or keep data in a named volume (NAME:${mount.target}, declared under the top-level volumes:)`,
    );
  }
  const relative = repoPath(source);
  if (!relative.ok) return refuse(relative.message);
  const path = relative.value;
  const kind = ctx.tree.kind(path);
  const bad = treeProblem(kind, path);
  if (bad) return refuse(bad);

  const context = ctx.buildContext;
  const inContext =
    context !== undefined &&
    (context === "." || path === context || path.startsWith(`${context}/`)) &&
    kind === "directory";
  if (inContext) {
    return {
      outcome: { type: "dropped" },
      notes: [
        {
          severity: "warning",
          message: `${display(path)} ${path === context ? "is" : "is inside"} the build context of ${ctx.service}, so the image already holds these files; the bind (a development overlay) is dropped`,
        },
      ],
    };
  }
  if (kind === "missing" && mount.readOnly) {
    return refuse(
      `${JSON.stringify(path)} is not in the repository, and a read-only bind gives the container files of the commit; commit it (the path is relative to the spec file's directory), or use a named volume for data`,
    );
  }
  const file = (kindOf: "file" | "directory", ...notes: MountNote[]) => ({
    outcome: {
      type: "file",
      file: {
        origin: "bind",
        name: path,
        target: mount.target,
        source: { type: "tree", path, kind: kindOf },
      },
    } as MountOutcome,
    notes,
  });
  if (kind === "file") {
    return mount.readOnly
      ? file("file")
      : file("file", {
          severity: "warning",
          message: `${display(path)} is bound writable: each replica gets its own copy of the file from the commit, and what it writes there is lost with the replica. Add :ro, or keep data in a named volume`,
        });
  }
  if (kind === "directory" && (mount.readOnly || path === ".")) {
    return mount.readOnly
      ? file("directory")
      : file("directory", {
          severity: "warning",
          message: `the repository is bound writable: each replica gets its own copy of the commit's files, and what it writes there is lost with the replica. Add :ro, or keep data in a named volume`,
        });
  }
  // A writable directory of the repository, or one the commit does not hold: the
  // container keeps data there, so it becomes a named volume that outlives releases.
  const name = ctx.volumeNameFor(path);
  const why =
    kind === "missing"
      ? `${display(path)} is not in the repository`
      : `${display(path)} is bound writable`;
  const start =
    kind === "missing"
      ? ""
      : " It starts with the image's files at that path, not the repository's; mount it read-only (:ro) to give the container the repository's files instead.";
  return {
    outcome: {
      type: "volume",
      mount: { source: name, target: mount.target, readOnly: mount.readOnly },
    },
    notes: [
      {
        severity: "warning",
        message: `${why}, so it becomes the named volume ${JSON.stringify(name)}, kept across releases; like any named volume it makes ${ctx.service} stateful (one replica, replaced stop-first).${start}`,
      },
    ],
  };
}

function display(path: string): string {
  return path === "." ? "." : `./${path}`;
}

/** A volume name for a repository directory: `data` for ./data, `data-mysql` for ./data/mysql. */
export function volumeNameOf(path: string): string {
  const name = path
    .replace(/\//g, "-")
    .replace(/[^A-Za-z0-9_.-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "");
  return name === "" ? "data" : name;
}
