import { NotFoundError } from "../errors.js";
import { type AppSpec, type Plan, toPlan } from "../spec/index.js";
import { decodePlan } from "../spec/plan-codec.js";
import type { ReleaseFileStore } from "../state/release-files.js";
import type { ReleaseRecord, RunStore } from "../state/runs.js";
import type { EngineImage } from "./engine.js";
import { releaseFingerprints } from "./fingerprint.js";

/** A release as the deploy flow runs it: decoded plan, images and fingerprints. */
export interface DeployRelease {
  app: string;
  number: number;
  plan: Plan;
  images: EngineImage[];
  /** serviceFingerprint per service. */
  fingerprints: Record<string, string>;
}

/**
 * Reads releases for the deploy flow. A release stores its plan and
 * fingerprints; one recorded before they were stored gets its plan made
 * again from its spec, and its fingerprints computed once and written back.
 */
export class ReleaseReader {
  constructor(
    private readonly runs: RunStore,
    private readonly releaseFiles?: ReleaseFileStore,
  ) {}

  /** Release `number` of `app`; NotFoundError when there is none. */
  get(app: string, number: number): DeployRelease {
    const record = this.find(app, number);
    if (!record) {
      throw new NotFoundError(
        `${app} has no release r${number}`,
        `skiff releases ${app} lists them`,
      );
    }
    return record;
  }

  /** Release `number` of `app`, if it exists. */
  find(app: string, number: number): DeployRelease | undefined {
    const record = this.runs.getReleaseByNumber(app, number);
    if (!record) return undefined;
    const plan = planOfRecord(record);
    let fingerprints = record.fingerprints;
    if (!fingerprints) {
      fingerprints = releaseFingerprints(plan, record.images, this.files(app, number));
      this.runs.setFingerprints(app, number, fingerprints);
    }
    return {
      app,
      number,
      plan,
      images: record.images.map(({ service, image, digest }) => ({ service, image, digest })),
      fingerprints,
    };
  }

  /** The files release `number` puts into its replicas, per service. */
  files(app: string, number: number): Record<string, Buffer> {
    return this.releaseFiles?.load(app, number) ?? {};
  }
}

/**
 * The plan a release was made with: stored with it, or, for a release
 * recorded before plans were stored, made again from its stored spec (which
 * the pipeline validated when it recorded the release).
 */
export function planOfRecord(record: ReleaseRecord): Plan {
  if (record.planJson !== undefined) return decodePlan(record.planJson);
  return toPlan(record.spec as AppSpec, record.app);
}
