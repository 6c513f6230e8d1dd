import { buildImage } from "../../build/build-image.js";
import type { BuildEvent, BuildStep } from "../../build/steps.js";
import { canonicalJson } from "../../canonical-json.js";
import { LABELS } from "../../docker/engine.js";
import type { RegistryCredentials } from "../../registry/client.js";
import { SourceTree } from "../../source/tree.js";
import type { RunStore } from "../../state/runs.js";
import type { BuiltImage, RunContext } from "../pipeline.js";
import { StageFailure } from "../stage-failure.js";
import { prepareImageService } from "./image-services.js";
import { imageTags, serviceRepository } from "./naming.js";
import { buildContextDir, type ReuseDeps, reusableImage, serviceBuildKey } from "./reuse.js";

/** Services of one release built at once; more only queue on the daemon and slow each other. */
const BUILD_PARALLELISM = 2;

function seconds(ms: number | undefined): string {
  return ms === undefined ? "" : ` ${(ms / 1000).toFixed(1)}s`;
}

/** A progress line for a step that finished or came from cache, as `docker build` prints it. */
export function stepLine(step: BuildStep): string | undefined {
  if (step.internal) return undefined;
  if (step.cached) return `${step.name} CACHED`;
  if (step.error) return `${step.name} ERROR: ${step.error}`;
  if (step.completedAt) return `${step.name} DONE${seconds(step.durationMs)}`;
  return undefined;
}

/**
 * Readies every service's image: a service that runs a given `image:` is
 * copied into the release (image-services.ts); every service with a
 * `build:` section is built through BuildKit, at most
 * BUILD_PARALLELISM at once. Each uses the same service's image from the
 * app's previous published release as a cache source, so a builder with an
 * empty cache still reuses unchanged layers (their metadata travels inside
 * the image, written because every build sets BUILDKIT_INLINE_CACHE=1).
 */
export async function buildServices(
  deps: ReuseDeps & { runs: RunStore; auth?: RegistryCredentials },
  ctx: RunContext,
): Promise<BuiltImage[]> {
  const previous = deps.runs.latestPublishedRelease(ctx.app);
  const tags = imageTags(ctx.releaseNumber, ctx.commit);
  const kept = keptByConfigChange(deps, ctx, tags);
  const toBuild = ctx.plan.services.filter(
    (s) => s.source.type === "build" && !kept.some((k) => k.service === s.name),
  );
  const given: BuiltImage[] = kept.filter((k) =>
    ctx.plan.services.some((s) => s.name === k.service && s.source.type === "image"),
  );
  for (const service of ctx.plan.services.filter((s) => s.source.type === "image")) {
    if (kept.some((k) => k.service === service.name)) continue;
    given.push(await prepareImageService(deps, ctx, service, previous, tags));
  }
  const keptBuilds = kept.filter((k) => !given.includes(k));
  if (toBuild.length === 0) {
    if (keptBuilds.length === 0) ctx.log("no service has a build: section; nothing to build");
    return [...orderedAsPlanned(ctx, keptBuilds), ...given];
  }
  const queue = [...toBuild];
  const built: BuiltImage[] = [];
  const failures: StageFailure[] = [];

  const worker = async () => {
    for (let service = queue.shift(); service; service = queue.shift()) {
      if (failures.length > 0 || ctx.signal.aborted) return;
      const source = service.source;
      if (source.type !== "build") continue;
      const repository = serviceRepository(deps.registryAddress, ctx.app, service.name);
      const inputs = await serviceBuildKey(deps, ctx.sourceDir, service);
      const buildKey = "key" in inputs ? inputs.key : undefined;
      const reused = buildKey
        ? await reusableImage(deps, previous, service.name, repository, buildKey)
        : undefined;
      if (reused && buildKey) {
        ctx.log(
          `unchanged since r${reused.release} (same context, Dockerfile, args and base images): reusing ${reused.image} (${reused.digest.slice(7, 19)}), not rebuilt`,
          service.name,
        );
        built.push({ service: service.name, repository, tags, buildKey, reused });
        continue;
      }
      if ("unknown" in inputs) {
        ctx.log(`always rebuilt: ${inputs.unknown}`, service.name);
      }
      const cacheFrom = previous?.images.find((i) => i.service === service.name)?.image;
      ctx.log(
        `building ${source.context}${source.target ? ` (target ${source.target})` : ""}${cacheFrom ? `, cache from ${cacheFrom}` : ", no earlier release to take cache from"}`,
        service.name,
      );
      // BuildKit repeats a vertex each time it changes (FROM may end DONE and
      // then turn up CACHED): print each step's first outcome only.
      const printed = new Set<string>();
      const onEvent = (event: BuildEvent) => {
        if (event.type !== "step") return;
        const line = stepLine(event.step);
        if (line && !printed.has(event.step.id)) {
          printed.add(event.step.id);
          ctx.log(line, service.name);
        }
      };
      const result = await buildImage(
        deps.docker,
        {
          contextDir: buildContextDir(new SourceTree(ctx.sourceDir), service.name, source),
          dockerfile: source.dockerfile,
          ...(source.target ? { target: source.target } : {}),
          args: source.args,
          tags: tags.map((tag) => `${repository}:${tag}`),
          ...(cacheFrom ? { cacheFrom: [cacheFrom] } : {}),
          labels: {
            [LABELS.app]: ctx.app,
            [LABELS.service]: service.name,
            [LABELS.release]: String(ctx.releaseNumber),
            ...(ctx.commit ? { "skiff.commit": ctx.commit } : {}),
          },
          signal: ctx.signal,
        },
        onEvent,
      );
      const visible = result.steps.filter((s) => !s.internal);
      deps.runs.recordBuildSteps(
        ctx.run.id,
        service.name,
        visible.map((s, position) => ({
          position,
          name: s.name,
          cached: s.cached,
          ...(s.durationMs !== undefined ? { durationMs: s.durationMs } : {}),
          ...(s.error ? { error: s.error } : {}),
        })),
      );
      if (result.ok) {
        const cached = visible.filter((s) => s.cached).length;
        ctx.log(
          `built in${seconds(result.durationMs)}: ${cached} of ${visible.length} steps cached`,
          service.name,
        );
        built.push({ service: service.name, repository, tags, ...(buildKey ? { buildKey } : {}) });
        continue;
      }
      if (result.reason === "cancelled") throw ctx.signal.reason ?? new Error("cancelled");
      const where = result.failedStep ? `step ${result.failedStep.name}` : "the build";
      const exit = result.exitCode !== undefined ? ` with exit code ${result.exitCode}` : "";
      failures.push(
        new StageFailure(`${service.name}: ${where} failed${exit}`, [
          `[${service.name}] ${result.message}`,
          ...result.output.map((line) => `[${service.name}] ${line}`),
          ...(result.hint ? [`[${service.name}] hint: ${result.hint}`] : []),
        ]),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(BUILD_PARALLELISM, toBuild.length) }, worker));
  if (ctx.signal.aborted) throw ctx.signal.reason;
  if (failures[0]) throw failures[0];
  return [...orderedAsPlanned(ctx, [...keptBuilds, ...built]), ...given];
}

/** Images in the plan's order, whatever order the builds finished in. */
function orderedAsPlanned(ctx: RunContext, images: BuiltImage[]): BuiltImage[] {
  return ctx.plan.services.flatMap((s) => images.filter((i) => i.service === s.name));
}

/**
 * A config change makes its release from the live one's images: each
 * service whose image is made the same way as in the live release (same
 * build section with the same args, or the same `image:`) keeps its image,
 * unbuilt. One whose build args or image name the changed config altered
 * is built (or pulled) as a push would.
 */
function keptByConfigChange(deps: ReuseDeps, ctx: RunContext, tags: string[]): BuiltImage[] {
  if (!ctx.imagesOf) return [];
  const { release, plan: livePlan } = ctx.imagesOf;
  const kept: BuiltImage[] = [];
  for (const service of ctx.plan.services) {
    const live = livePlan.services.find((s) => s.name === service.name);
    const image = release.images.find((i) => i.service === service.name);
    if (!live || !image || canonicalJson(live.source) !== canonicalJson(service.source)) {
      ctx.log(
        live && image
          ? `the config change alters how this image is made; it is made again`
          : `not in r${release.number}; made as a push would`,
        service.name,
      );
      continue;
    }
    ctx.log(
      `kept from r${release.number}: ${image.image} (${image.digest.slice(7, 19)}), not rebuilt`,
      service.name,
    );
    kept.push({
      service: service.name,
      repository: serviceRepository(deps.registryAddress, ctx.app, service.name),
      tags,
      ...(image.buildKey ? { buildKey: image.buildKey } : {}),
      reused: { digest: image.digest, image: image.image, release: release.number },
    });
  }
  return kept;
}
