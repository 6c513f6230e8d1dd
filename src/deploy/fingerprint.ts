import { createHash } from "node:crypto";
import { canonicalJson } from "../canonical-json.js";
import type { Plan, PlanService } from "../spec/index.js";

/**
 * How a release runs one service's containers, as one short value: the
 * image digest, the container settings and Docker healthcheck, and the bytes of
 * the service's release files (a changed secret or nginx.conf under the
 * same name). Two releases with the same fingerprint for a service run its
 * containers the same way, so a deploy keeps its replicas; each replica
 * carries the value as a label.
 *
 * Left out, since they change no container: the replica count (a new count
 * adds or removes replicas), routes and domains (the edge follows them),
 * Skiff's own HTTP health check (the edge and the reconciler follow it),
 * dependencies, the update order, autoscale and budget settings, and how the
 * image was built (the digest says what came out). Keys are sorted before
 * hashing, so a plan decoded from storage gives the value it was stored with.
 */
export function serviceFingerprint(service: PlanService, digest: string, files?: Buffer): string {
  const material = {
    digest,
    container: service.container,
    // Docker runs this check inside the container; Skiff's HTTP check and the
    // running-time check only decide when a new replica counts as started.
    health: service.health.type === "docker" ? service.health : null,
    files: files ? createHash("sha256").update(files).digest("hex") : null,
  };
  return createHash("sha256").update(canonicalJson(material)).digest("hex").slice(0, 24);
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
