// Build and test work runs at a lower CPU weight than live replicas, so a
// push does not starve the app it replaces (measured with bench/zero-downtime,
// docs/BENCHMARKS.md). Weights only matter when the CPUs are contended: an
// idle host gives builds and tests all of it.

import { writeFile } from "node:fs/promises";

/**
 * cpu.shares of a test container and of BuildKit's build steps, against
 * Docker's default of 1024 for every replica: one eighth of a replica's
 * share while both want the CPU.
 */
export const BACKGROUND_CPU_SHARES = 128;

/**
 * Where dockerd's embedded BuildKit runs `RUN` steps: the cgroup `buildkit`
 * under Docker's own (moby's newCgroupParent: "docker", cgroupfs driver).
 * BuildKit ignores the build API's cpushares (moby/buildkit#1066), so the
 * weight goes on that cgroup. cgroup v1 takes shares; v2 takes a weight,
 * which runc converts from shares as 1 + (shares - 2) × 9999 / 262142.
 */
export const BUILDKIT_CGROUPS: readonly { file: string; value: string }[] = [
  { file: "/sys/fs/cgroup/cpu/docker/buildkit/cpu.shares", value: String(BACKGROUND_CPU_SHARES) },
  {
    file: "/sys/fs/cgroup/docker/buildkit/cpu.weight",
    value: String(1 + Math.floor(((BACKGROUND_CPU_SHARES - 2) * 9999) / 262142)),
  },
];

/**
 * Gives BuildKit's build steps the background weight. Returns the cgroup
 * file written, or why none could be (no such cgroup on this host: a
 * systemd cgroup driver, or dockerd has not built anything yet; not root).
 */
export async function lowerBuildCpuWeight(
  cgroups = BUILDKIT_CGROUPS,
): Promise<{ file: string } | { reason: string }> {
  const reasons: string[] = [];
  for (const { file, value } of cgroups) {
    try {
      await writeFile(file, value);
      return { file };
    } catch (error) {
      reasons.push(`${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  return { reason: reasons.join("; ") };
}
