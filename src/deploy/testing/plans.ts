// Plans from real compose.yaml text, for the deploy flow's unit and scenario tests.

import { type Plan, parseSpec, toPlan } from "../../spec/index.js";
import { releaseFingerprints } from "../fingerprint.js";

/** The plan of `app` for a compose.yaml; throws with the spec's problems when it is invalid. */
export function planFrom(app: string, composeYaml: string): Plan {
  const result = parseSpec(composeYaml, { fileName: "compose.yaml" });
  if (!result.ok) {
    throw new Error(`invalid test spec: ${result.errors.map((e) => e.message).join("; ")}`);
  }
  return toPlan(result.spec, app);
}

/** Image digests for every service, e.g. `sha256:web-2` for release 2's web. */
export function digestsOf(plan: Plan, release: number, changed?: readonly string[]) {
  return plan.services.map((s) => ({
    service: s.name,
    image: `127.0.0.1:5000/${plan.app}/${s.name}:r${release}`,
    digest: `sha256:${s.name}-${changed === undefined || changed.includes(s.name) ? release : 1}`,
  }));
}

/** serviceFingerprint per service for those digests, without release files. */
export function fingerprintsOf(plan: Plan, release: number, changed?: readonly string[]) {
  return releaseFingerprints(plan, digestsOf(plan, release, changed), {});
}
