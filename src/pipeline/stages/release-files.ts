import { posix } from "node:path";
import { endOfArchive, entryHeader, padding, type TarEntry } from "../../build/tar.js";
import type { SourceTree } from "../../source/tree.js";
import type { Plan, PlanService } from "../../spec/index.js";
import { describeTreeEntry } from "../../spec/tree.js";
import type { PlanFile } from "../../spec/types.js";
import { StageFailure } from "../stage-failure.js";

/**
 * The files a release puts into its containers: read-only binds of the
 * repository (`./nginx.conf:/etc/nginx/nginx.conf:ro`), `secrets:` and
 * `configs:`. They are read from the pushed tree (or the run's environment)
 * once, at the source stage, and kept with the release as one tar archive
 * per service, extracted into each new container before it starts
 * (`PUT /containers/{id}/archive`). So the release carries its own bytes:
 * no container ever binds a host path, a rollback gets the files it had,
 * and a replica the reconciler starts a week later gets the same ones.
 */

/** Per service, the archive to extract at the container's `/`. Services without files are absent. */
export type ReleaseFiles = Record<string, Buffer>;

/**
 * A service's files are configuration, not content: more than this is
 * refused with a hint to COPY them in the Dockerfile instead.
 */
export const RELEASE_FILES_LIMIT_BYTES = 8 * 1024 * 1024;

/** Every entry's modification time: fixed, so an archive depends on its files alone. */
const FILES_MTIME = 0;

/** Compose's default mode for secrets and configs (Compose Specification, "secrets", "configs"). */
const DEFAULT_SECRET_MODE = 0o444;

interface Collected {
  entries: { entry: TarEntry; content?: Buffer }[];
  /** Bytes of the archive: each entry's header block and its content. */
  bytes: number;
}

/** A tar header block, counted against the limit with the contents. */
const HEADER_BYTES = 512;
/** Files and directories a service's binds may hold; a config tree is never this big. */
const MAX_ENTRIES = 10_000;

/**
 * Reads every file the plan's services ask for. Throws StageFailure naming
 * the service, the file and what is wrong (a path that left the tree, a
 * variable that is not set, too many bytes), never what a file holds.
 */
export function collectReleaseFiles(input: {
  tree: SourceTree;
  plan: Plan;
  env: Readonly<Record<string, string>>;
}): ReleaseFiles {
  const out: ReleaseFiles = {};
  const problems: string[] = [];
  // The same files must give the same bytes: the deployer keeps a service's
  // replicas only when its archive did not change, so no clock goes in.
  const mtime = FILES_MTIME;
  for (const service of input.plan.services) {
    const files = service.container.files ?? [];
    if (files.length === 0) continue;
    const collected: Collected = { entries: [], bytes: 0 };
    for (const file of files) {
      const problem = collectOne(input, file, collected, mtime);
      if (problem) problems.push(`${describeFile(service, file)}: ${problem}`);
    }
    if (collected.bytes > RELEASE_FILES_LIMIT_BYTES) {
      problems.push(
        `services.${service.name}: its binds, secrets and configs hold ${mb(collected.bytes)}, more than the ${mb(RELEASE_FILES_LIMIT_BYTES)} a release carries; COPY big files into the image in its Dockerfile instead`,
      );
    }
    if (problems.length === 0) out[service.name] = toArchive(collected);
  }
  if (problems.length > 0) {
    throw new StageFailure(
      `${problems.length} file${problems.length === 1 ? "" : "s"} of the release cannot be read`,
      problems.map((p) => `error: ${p}`),
    );
  }
  return out;
}

function collectOne(
  input: { tree: SourceTree; env: Readonly<Record<string, string>> },
  file: PlanFile,
  into: Collected,
  mtime: number,
): string | undefined {
  const owner = ownerOf(file);
  if (typeof owner === "string") return owner;
  const target = file.target.replace(/^\/+/, "");
  if (target === "" || target.split("/").includes("..")) {
    return `the target ${JSON.stringify(file.target)} must be an absolute path inside the container`;
  }
  const source = file.source;
  const addFile = (path: string, content: Buffer, mode: number) => {
    into.entries.push({
      entry: { path, type: "file", mode, size: content.length, mtime, ...owner },
      content,
    });
    into.bytes += HEADER_BYTES + content.length;
  };
  const defaultMode = file.origin === "bind" ? undefined : DEFAULT_SECRET_MODE;
  switch (source.type) {
    case "content":
      addFile(target, Buffer.from(source.content, "utf8"), file.mode ?? DEFAULT_SECRET_MODE);
      return undefined;
    case "environment": {
      const value = input.env[source.variable];
      if (value === undefined) {
        return `the variable ${source.variable} is not set in the app's config or .env`;
      }
      addFile(target, Buffer.from(value, "utf8"), file.mode ?? DEFAULT_SECRET_MODE);
      return undefined;
    }
    case "tree": {
      const kind = input.tree.kind(source.path);
      if (kind !== source.kind) {
        return `${JSON.stringify(source.path)} ${describeTreeEntry(kind, `a ${source.kind}`)}`;
      }
      if (kind === "file") {
        const content = input.tree.readBytes(source.path, RELEASE_FILES_LIMIT_BYTES);
        if (!content)
          return `${JSON.stringify(source.path)} is larger than ${mb(RELEASE_FILES_LIMIT_BYTES)}`;
        addFile(target, content, file.mode ?? defaultMode ?? input.tree.mode(source.path) ?? 0o644);
        return undefined;
      }
      return collectDirectory(input.tree, source.path, target, owner, into, mtime, addFile);
    }
  }
}

/**
 * A directory of the tree, recursively, as a bind mount shows it: files with
 * their content, subdirectories, and links as links. A link is never
 * followed here: in the container it resolves against the container's own
 * file system, exactly as it would through a bind, so it cannot reach the
 * host, and links that fan out or loop cost one entry each.
 */
function collectDirectory(
  tree: SourceTree,
  path: string,
  target: string,
  owner: { uid?: number; gid?: number },
  into: Collected,
  mtime: number,
  addFile: (path: string, content: Buffer, mode: number) => void,
): string | undefined {
  into.entries.push({
    entry: {
      path: target,
      type: "directory",
      mode: tree.mode(path) ?? 0o755,
      size: 0,
      mtime,
      ...owner,
    },
  });
  into.bytes += HEADER_BYTES;
  for (const entry of tree.entries(path) ?? []) {
    if (into.entries.length >= MAX_ENTRIES || into.bytes > RELEASE_FILES_LIMIT_BYTES) {
      return `the bound directories hold more than ${MAX_ENTRIES} entries or ${mb(RELEASE_FILES_LIMIT_BYTES)}; COPY them into the image in its Dockerfile instead`;
    }
    const childPath = posix.join(path, entry.name);
    const childTarget = posix.join(target, entry.name);
    if (entry.type === "directory") {
      const problem = collectDirectory(tree, childPath, childTarget, owner, into, mtime, addFile);
      if (problem) return problem;
    } else if (entry.type === "file") {
      const content = tree.readBytes(childPath, RELEASE_FILES_LIMIT_BYTES);
      if (!content)
        return `${JSON.stringify(childPath)} is larger than ${mb(RELEASE_FILES_LIMIT_BYTES)}`;
      addFile(childTarget, content, entry.mode);
    } else if (entry.type === "symlink") {
      const linkname = entry.linkname ?? "";
      into.entries.push({
        entry: {
          path: childTarget,
          type: "symlink",
          mode: 0o777,
          size: 0,
          mtime,
          linkname,
          ...owner,
        },
      });
      into.bytes += HEADER_BYTES;
    } else {
      return `${JSON.stringify(childPath)} is not a file, directory or link (a device, socket or FIFO)`;
    }
  }
  return undefined;
}

/** Compose's `uid`/`gid` are numbers written as strings; a name cannot be resolved outside the image. */
function ownerOf(file: PlanFile): { uid?: number; gid?: number } | string {
  const owner: { uid?: number; gid?: number } = {};
  for (const key of ["uid", "gid"] as const) {
    const value = file[key];
    if (value === undefined) continue;
    if (!/^\d+$/.test(value)) {
      return `${key} must be a number (got ${JSON.stringify(value)}); Skiff cannot look up user names in the image`;
    }
    owner[key] = Number(value);
  }
  return owner;
}

function toArchive(collected: Collected): Buffer {
  const parts: Buffer[] = [];
  for (const { entry, content } of collected.entries) {
    parts.push(entryHeader(entry));
    if (content) parts.push(content, padding(content.length));
  }
  parts.push(endOfArchive());
  return Buffer.concat(parts);
}

function describeFile(service: PlanService, file: PlanFile): string {
  const kind = file.origin === "bind" ? "volume" : file.origin;
  return `services.${service.name} ${kind} ${JSON.stringify(file.name)} (${file.target})`;
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(bytes < 1024 * 1024 ? 2 : 0)} MB`;
}

/**
 * The values of the plan's Compose `secrets:` (a file of the tree, or a
 * variable of the config or `.env`), named after the secret: what the
 * run's log scrubs. A file that cannot be read is left to
 * collectReleaseFiles to report.
 */
export function composeSecretValues(input: {
  tree: SourceTree;
  plan: Plan;
  env: Readonly<Record<string, string>>;
}): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  for (const service of input.plan.services) {
    for (const file of service.container.files ?? []) {
      if (file.origin !== "secret") continue;
      const { source } = file;
      const value =
        source.type === "environment"
          ? input.env[source.variable]
          : source.type === "tree" && source.kind === "file"
            ? input.tree.readBytes(source.path, RELEASE_FILES_LIMIT_BYTES)?.toString("utf8")
            : undefined;
      if (value === undefined) continue;
      out.push({ name: file.name, value });
      // A file's trailing newline is not part of what an app prints.
      if (value.trimEnd() !== value) out.push({ name: file.name, value: value.trimEnd() });
    }
  }
  return out;
}
