// Looking inside an app's running replicas, straight through Docker.

import type Docker from "dockerode";
import { instanceId, LABELS } from "../../src/docker/engine.js";
import type { SkiffSandbox } from "./skiff-harness.js";

/** The running containers of `service` of `app` in the sandbox, sorted by id. */
export async function runningReplicas(
  docker: Docker,
  sandbox: SkiffSandbox,
  app: string,
  service: string,
): Promise<Docker.ContainerInfo[]> {
  const found = await docker.listContainers({
    filters: {
      label: [
        `${LABELS.instance}=${instanceId(sandbox.home)}`,
        `${LABELS.app}=${app}`,
        `${LABELS.service}=${service}`,
      ],
      status: ["running"],
    },
  });
  return found.sort((a, b) => a.Id.localeCompare(b.Id));
}

/** Runs `cmd` in the container; its stdout as raw bytes. Anything on stderr fails it. */
export async function execStdout(
  docker: Docker,
  containerId: string,
  cmd: string[],
): Promise<Buffer> {
  const exec = await docker.getContainer(containerId).exec({
    Cmd: cmd,
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await exec.start({});
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  // Without a TTY the exec's output is multiplexed: 8-byte frame headers
  // (stream type, 3 zero bytes, big-endian payload length), then payloads.
  const raw = Buffer.concat(chunks);
  const stdout: Buffer[] = [];
  for (let at = 0; at + 8 <= raw.length; ) {
    const size = raw.readUInt32BE(at + 4);
    const payload = raw.subarray(at + 8, at + 8 + size);
    if (raw[at] === 1) stdout.push(payload);
    else throw new Error(`${cmd.join(" ")}: ${payload.toString("utf8")}`);
    at += 8 + size;
  }
  return Buffer.concat(stdout);
}

/** The environment PID 1 of the container was started with, byte for byte (proc(5)). */
export async function processEnvironment(
  docker: Docker,
  containerId: string,
): Promise<Record<string, string>> {
  const vars: Record<string, string> = {};
  const raw = await execStdout(docker, containerId, ["cat", "/proc/1/environ"]);
  for (const entry of raw.toString("utf8").split("\0")) {
    if (entry === "") continue;
    const at = entry.indexOf("=");
    vars[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return vars;
}
