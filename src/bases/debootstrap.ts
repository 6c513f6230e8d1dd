import { constants } from "node:fs";
import { access, mkdir, readdir, readFile, rm } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { DependencyError, ValidationError } from "../errors.js";

/**
 * debootstrap(8) as plain data: the arguments of a minimal Debian root
 * filesystem (`--variant=minbase`: Essential packages and apt, no
 * systemd, no docs stripping) plus the requested packages, and what must
 * hold before running it.
 */

// Debian policy §5.6.1: package names are lower-case alphanumerics and + - .
const PACKAGE = /^[a-z0-9][a-z0-9+.-]+$/;
const SUITE = /^[a-z][a-z0-9-]*$/;

/** The packages, checked, sorted and without duplicates; throws ValidationError naming a bad one. */
export function normalisePackages(packages: string[]): string[] {
  for (const name of packages) {
    if (!PACKAGE.test(name)) {
      throw new ValidationError(
        `${JSON.stringify(name)} is not a Debian package name`,
        "package names are lower-case letters, digits and + - . (e.g. nodejs, ca-certificates)",
      );
    }
  }
  return [...new Set(packages)].sort();
}

/** Throws a ValidationError unless `suite` looks like a Debian code name (`bookworm`). */
export function assertSuite(suite: string): void {
  if (!SUITE.test(suite)) {
    throw new ValidationError(
      `${JSON.stringify(suite)} is not a Debian suite`,
      "use a code name such as bookworm",
    );
  }
}

/** `debootstrap --variant=minbase [--include=a,b] SUITE TARGET MIRROR` */
export function debootstrapArgs(options: {
  packages: string[];
  suite: string;
  target: string;
  mirror: string;
}): string[] {
  const include = options.packages.length > 0 ? [`--include=${options.packages.join(",")}`] : [];
  return ["--variant=minbase", ...include, options.suite, options.target, options.mirror];
}

/**
 * The tar that streams the root filesystem into `POST /images/create`:
 * numeric owners (the image has its own /etc/passwd), and /dev, /proc and
 * /sys left empty (the runtime mounts them; device nodes have no place in a layer).
 */
export function rootfsTarArgs(rootfs: string): string[] {
  return [
    "--numeric-owner",
    "--exclude=./dev/*",
    "--exclude=./proc/*",
    "--exclude=./sys/*",
    "-C",
    rootfs,
    "-cf",
    "-",
    ".",
  ];
}

/**
 * Why base images cannot be built here, or undefined when they can:
 * debootstrap creates device nodes and chroots, so it needs root.
 */
export function prerequisiteProblem(facts: {
  uid: number | undefined;
  debootstrap: string | undefined;
}): DependencyError | undefined {
  if (facts.uid !== 0) {
    return new DependencyError(
      "building a base image needs root: debootstrap creates device nodes and runs a chroot",
      "run Skiff as root (scripts/quickstart does), or build the base image on a host where it runs as root",
    );
  }
  if (facts.debootstrap === undefined) {
    return new DependencyError(
      "building a base image needs debootstrap, which is not installed",
      "install it with `apt-get install debootstrap` (scripts/quickstart does)",
    );
  }
  return undefined;
}

/** The debootstrap executable: `explicit`, else on PATH, else /usr/sbin or /sbin (not on a user's PATH). */
export async function findDebootstrap(explicit?: string): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/sbin"].filter(Boolean);
  const candidates = explicit ? [explicit] : dirs.map((dir) => join(dir, "debootstrap"));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not there
    }
  }
  return undefined;
}

/**
 * Removes what apt leaves behind that an image does not need: downloaded
 * .debs, the package cache and the package lists (an `apt-get update` in a
 * Dockerfile fetches fresh ones), as Debian's official images do.
 */
export async function cleanAptCaches(rootfs: string): Promise<void> {
  const emptyDir = async (dir: string, keep: (name: string) => boolean) => {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (!keep(name)) await rm(join(dir, name), { recursive: true, force: true });
    }
  };
  await emptyDir(
    join(rootfs, "var/cache/apt/archives"),
    (name) => name === "partial" || name === "lock",
  );
  await emptyDir(join(rootfs, "var/cache/apt/archives/partial"), () => false);
  await emptyDir(join(rootfs, "var/cache/apt"), (name) => !name.endsWith(".bin"));
  await emptyDir(
    join(rootfs, "var/lib/apt/lists"),
    (name) => name === "partial" || name === "lock",
  );
  await mkdir(join(rootfs, "var/lib/apt/lists/partial"), { recursive: true });
}

/**
 * Mount points at or under `dir`, longest path first (a mount inside
 * another comes before it). debootstrap mounts /proc
 * and /sys inside the target while configuring packages; a run that was
 * killed can leave them mounted, and deleting the tree then would reach
 * into the host's /proc and /sys.
 */
export async function mountsUnder(
  dir: string,
  mountsFile = "/proc/self/mounts",
): Promise<string[]> {
  const text = await readFile(mountsFile, "utf8").catch(() => "");
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  return text
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .map((field) =>
      field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
        String.fromCharCode(Number.parseInt(octal, 8)),
      ),
    )
    .filter((point) => point === dir || point.startsWith(prefix))
    .sort((a, b) => b.length - a.length || a.localeCompare(b));
}
