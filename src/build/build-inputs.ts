import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { listBuildContext } from "./context.js";

/** Everything a build's result depends on, as far as Skiff can see it. */
export interface BuildInputs {
  contextDir: string;
  dockerfile: string;
  target?: string;
  args: Readonly<Record<string, string>>;
  /** Each base image with the digest or image id it resolves to right now. */
  bases: readonly { image: string; resolvedTo: string }[];
}

/**
 * A digest of a build's inputs: the context exactly as it would be sent
 * (after `.dockerignore`: paths, types, modes, link targets and file
 * contents, but not modification times, which a fresh checkout resets),
 * the Dockerfile's name, target, args and resolved base images. Two builds
 * with the same digest produce the same image, so the second can reuse the
 * first's instead of rebuilding and pulling its layers.
 */
export async function buildInputsDigest(inputs: BuildInputs): Promise<string> {
  const hash = createHash("sha256");
  const field = (name: string, value: string) => hash.update(`${name}\0${value}\0`);
  field("dockerfile", inputs.dockerfile);
  field("target", inputs.target ?? "");
  for (const [name, value] of Object.entries(inputs.args).sort(([a], [b]) => a.localeCompare(b))) {
    field(`arg ${name}`, value);
  }
  for (const base of inputs.bases) field(`base ${base.image}`, base.resolvedTo);
  const entries = await listBuildContext(inputs.contextDir, { dockerfile: inputs.dockerfile });
  for (const { source, entry } of entries) {
    field("entry", `${entry.type} ${entry.path} ${(entry.mode & 0o7777).toString(8)}`);
    if (entry.type === "symlink") field("link", entry.linkname ?? "");
    if (entry.type === "file") field("content", await fileDigest(source));
  }
  return `sha256:${hash.digest("hex")}`;
}

async function fileDigest(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
