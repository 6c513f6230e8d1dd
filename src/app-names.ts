import { ValidationError } from "./errors.js";

/** Names the platform uses for itself: `bases/…` holds base images in the registry. */
const RESERVED_APP_NAMES = new Set(["bases"]);

/**
 * Checks an app name against DNS label rules (RFC 1123): it becomes a host
 * name (`APP.localhost`), a Docker network name and a registry namespace.
 * Returns undefined when valid, else what is wrong.
 */
export function appNameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (name.length > 63) return `is ${name.length} characters long; at most 63 are allowed`;
  if (!/^[a-z0-9-]+$/.test(name)) {
    const bad = [...new Set(name.replace(/[a-z0-9-]/g, ""))].map((c) => JSON.stringify(c));
    return `contains ${bad.join(", ")}; use only lowercase letters, digits and "-"`;
  }
  if (name.startsWith("-") || name.endsWith("-")) return 'must not start or end with "-"';
  if (RESERVED_APP_NAMES.has(name)) return "is reserved by Skiff; choose another name";
  return undefined;
}

/** Throws a ValidationError naming the problem with an app name. */
export function assertAppName(name: string): void {
  const problem = appNameProblem(name);
  if (problem) {
    throw new ValidationError(
      `app name ${JSON.stringify(name)} ${problem}`,
      'app names follow DNS label rules: lowercase letters, digits and "-", 1 to 63 characters, no "-" at either end (e.g. "shop-api")',
    );
  }
}
