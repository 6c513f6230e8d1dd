import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  createReadStream,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";

/** A tiny image for tests: Debian's static busybox, imported without any registry. */
export const TEST_IMAGE = "skiff-test/busybox:1";
/** Every container and network a test creates carries this label, so cleanup finds them. */
export const TEST_LABEL = "skiff.test";

export function testDocker(): Docker {
  return new Docker({ socketPath: "/var/run/docker.sock" });
}

/** Imports busybox-static as TEST_IMAGE unless it is already there. */
export async function ensureTestImage(docker: Docker): Promise<string> {
  const existing = await docker.listImages({ filters: { reference: [TEST_IMAGE] } });
  if (existing.length > 0) return TEST_IMAGE;
  const root = mkdtempSync(join(tmpdir(), "skiff-busybox-"));
  try {
    mkdirSync(join(root, "rootfs/bin"), { recursive: true });
    copyFileSync("/bin/busybox", join(root, "rootfs/bin/busybox"));
    for (const applet of ["sh", "sleep", "echo", "cat", "wget", "httpd"]) {
      symlinkSync("busybox", join(root, "rootfs/bin", applet));
    }
    const tarball = join(root, "rootfs.tar");
    execFileSync("tar", ["-C", join(root, "rootfs"), "-cf", tarball, "."]);
    const [repo, tag] = TEST_IMAGE.split(":") as [string, string];
    const stream = await docker.importImage(createReadStream(tarball), { repo, tag });
    await new Promise((resolve, reject) =>
      docker.modem.followProgress(stream, (error) => (error ? reject(error) : resolve(undefined))),
    );
    return TEST_IMAGE;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Removes every container and network carrying the test label. */
export async function removeTestObjects(docker: Docker): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [TEST_LABEL] } });
  for (const c of containers) await docker.getContainer(c.Id).remove({ force: true });
  const networks = await docker.listNetworks({ filters: { label: [TEST_LABEL] } });
  for (const n of networks) await docker.getNetwork(n.Id).remove();
}
