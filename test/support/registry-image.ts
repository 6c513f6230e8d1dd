import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

/**
 * Test helpers for the registry: a real Docker Distribution on a free
 * 127.0.0.1 port, and a tiny image pushed with the raw HTTP API, so registry
 * tests need neither Docker nor the internet. API: Docker Registry HTTP API v2
 * (distribution docs/spec/api.md, "Pushing An Image") and Image Manifest V2
 * Schema 2 (docs/spec/manifest-v2-2.md).
 */

const REGISTRY_BINARY = "/usr/bin/docker-registry";
const MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json";
const IMAGE_CONFIG = "application/vnd.docker.container.image.v1+json";
const LAYER_TAR_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** A ustar archive holding one regular file, with fixed metadata so equal content gives equal bytes. */
export function tarWithOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => {
    header.write(value, offset, length, "ascii");
  };
  const octal = (offset: number, length: number, value: number) => {
    field(offset, length, `${value.toString(8).padStart(length - 1, "0")}\0`);
  };
  field(0, 100, name);
  octal(100, 8, 0o644); // mode
  octal(108, 8, 0); // uid
  octal(116, 8, 0); // gid
  octal(124, 12, content.length); // size
  octal(136, 12, 0); // mtime
  field(148, 8, " ".repeat(8)); // checksum is computed with its own field as spaces
  field(156, 1, "0"); // regular file
  field(257, 6, "ustar\0");
  field(263, 2, "00");
  let checksum = 0;
  for (const byte of header) checksum += byte;
  field(148, 8, `${checksum.toString(8).padStart(6, "0")}\0 `);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

async function expectStatus(response: Response, expected: number, what: string): Promise<void> {
  if (response.status === expected) return;
  const body = await response.text().catch(() => "");
  throw new Error(`${what}: expected HTTP ${expected}, got ${response.status} ${body}`);
}

/** Monolithic upload: POST opens an upload session, one PUT with `?digest=` sends all bytes. */
async function uploadBlob(base: string, repository: string, blob: Buffer): Promise<string> {
  const digest = sha256(blob);
  const started = await fetch(`${base}/v2/${repository}/blobs/uploads/`, { method: "POST" });
  await expectStatus(started, 202, `start blob upload to ${repository}`);
  const location = started.headers.get("location");
  if (!location) throw new Error(`start blob upload to ${repository}: no Location header`);
  // Location may be relative and already carries the upload state in its query.
  const target = new URL(location, base);
  target.searchParams.set("digest", digest);
  const finished = await fetch(target, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream" },
    body: new Uint8Array(blob),
  });
  await expectStatus(finished, 201, `upload blob ${digest} to ${repository}`);
  return digest;
}

/**
 * Pushes a one-layer image (a gzip'd tar holding /skiff.txt = `content`) as
 * `repository:tag` and returns its manifest digest: the sha256 of the exact
 * manifest bytes, checked against the registry's Docker-Content-Digest.
 */
export async function pushTinyImage(
  registryUrl: string,
  repository: string,
  tag: string,
  options: { content?: string } = {},
): Promise<{ digest: string }> {
  const base = registryUrl.replace(/\/+$/, "");
  const tar = tarWithOneFile("skiff.txt", Buffer.from(options.content ?? `${repository}:${tag}\n`));
  const layer = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Cmd: ["/bin/true"] },
      rootfs: { type: "layers", diff_ids: [sha256(tar)] },
      history: [{ created_by: "skiff test/support/registry-image.ts" }],
    }),
  );
  const layerDigest = await uploadBlob(base, repository, layer);
  const configDigest = await uploadBlob(base, repository, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_V2,
      config: { mediaType: IMAGE_CONFIG, size: config.length, digest: configDigest },
      layers: [{ mediaType: LAYER_TAR_GZIP, size: layer.length, digest: layerDigest }],
    }),
  );
  const digest = sha256(manifest);
  const put = await fetch(`${base}/v2/${repository}/manifests/${tag}`, {
    method: "PUT",
    headers: { "content-type": MANIFEST_V2 },
    body: manifest,
  });
  await expectStatus(put, 201, `put manifest ${repository}:${tag}`);
  const answered = put.headers.get("docker-content-digest");
  if (answered !== digest) {
    throw new Error(
      `put manifest ${repository}:${tag}: registry says ${answered}, bytes hash to ${digest}`,
    );
  }
  return { digest };
}

/** A Docker Distribution started by `startTestRegistry`. */
export interface TestRegistry {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  /** Kills the registry by its pid and removes its temp dir. */
  stop(): Promise<void>;
}

/** A port free right now on 127.0.0.1, found by binding port 0. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Distribution's config file (docs/configuration.md); access log off so test output stays quiet. */
export function testRegistryConfig(options: {
  rootDirectory: string;
  port: number;
  deleteEnabled: boolean;
  httpSecret: string;
}): string {
  return [
    "version: 0.1",
    "log:",
    "  level: warn",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${options.rootDirectory}`,
    "  delete:",
    `    enabled: ${options.deleteEnabled}`,
    "http:",
    `  addr: 127.0.0.1:${options.port}`,
    `  secret: ${options.httpSecret}`,
    "",
  ].join("\n");
}

/**
 * Starts `/usr/bin/docker-registry serve` on a free 127.0.0.1 port with its
 * storage in a fresh temp dir (deletes enabled unless told otherwise) and
 * resolves once /v2/ answers.
 */
export async function startTestRegistry(
  options: { deleteEnabled?: boolean } = {},
): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "skiff-registry-"));
  try {
    // Another process may take the free port between our probe and the
    // registry's bind; a second port almost always works.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const configFile = join(dir, "config.yml");
      await writeFile(
        configFile,
        testRegistryConfig({
          rootDirectory: join(dir, "data"),
          port,
          deleteEnabled: options.deleteEnabled ?? true,
          httpSecret: randomBytes(16).toString("hex"),
        }),
      );
      const url = `http://127.0.0.1:${port}`;
      const child = spawn(REGISTRY_BINARY, ["serve", configFile], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      const output = captureOutput(child);
      try {
        await waitUntilServing(url, child, output);
      } catch (error) {
        await killChild(child);
        if (attempt < 3 && /address already in use/.test(output())) continue;
        throw error;
      }
      return {
        url,
        async stop() {
          await killChild(child);
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Keeps the last few KB of the child's output (read continuously, so its pipes never fill). */
function captureOutput(child: ChildProcess): () => string {
  let text = "";
  const keep = (chunk: Buffer) => {
    text = (text + chunk.toString("utf8")).slice(-8192);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return () => text;
}

async function waitUntilServing(
  url: string,
  child: ChildProcess,
  output: () => string,
): Promise<void> {
  let exited = false;
  let spawnError: Error | undefined;
  child.once("exit", () => {
    exited = true;
  });
  child.once("error", (error) => {
    spawnError = error;
  });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (spawnError) throw new Error(`cannot start ${REGISTRY_BINARY}: ${spawnError.message}`);
    if (exited) throw new Error(`${REGISTRY_BINARY} exited before serving:\n${output()}`);
    try {
      const response = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${REGISTRY_BINARY} did not answer ${url}/v2/ within 15 s:\n${output()}`);
}

/** SIGTERM the child by its pid, SIGKILL it after 5 s, and wait for it to exit. */
async function killChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const pid = child.pid;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  process.kill(pid, "SIGTERM");
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, "SIGKILL");
  }, 5_000);
  await exited;
  clearTimeout(timer);
}
