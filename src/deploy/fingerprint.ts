import { createHash } from "node:crypto";
import type { Plan, PlanService } from "../spec/index.js";

/**
 * How a release runs one service, as one short value: the image digest, the
 * service's whole plan (settings, health, routes) and the bytes of its
 * release files (a changed secret or nginx.conf under the same name). Two
 * releases with the same fingerprint for a service run it the same way, so
 * a deploy keeps its replicas; each replica carries the value as a label.
 */
export function serviceFingerprint(service: PlanService, digest: string, files?: Buffer): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify({ service, digest }));
  hash.update("\0files\0");
  if (files) hash.update(createHash("sha256").update(files).digest("hex"));
  return hash.digest("hex").slice(0, 24);
}

/** serviceFingerprint of every service of a release that has an image. */
export function releaseFingerprints(
  plan: Plan,
  images: readonly { service: string; digest: string }[],
  files: Readonly<Record<string, Buffer>>,
): Record<string, string> {
  const fingerprints: Record<string, string> = {};
  for (const service of plan.services) {
    const digest = images.find((i) => i.service === service.name)?.digest;
    if (digest)
      fingerprints[service.name] = serviceFingerprint(service, digest, files[service.name]);
  }
  return fingerprints;
}
