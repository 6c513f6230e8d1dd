import type Docker from "dockerode";
import { imageRegistryHost, type SkiffConfig } from "../../config.js";
import { type Deployer, DeployFailure } from "../../deploy/deployer.js";
import { lowerBuildCpuWeight } from "../../docker/background-cpu.js";
import { instanceId } from "../../docker/engine.js";
import { ensureImage } from "../../docker/image-pull.js";
import { SkiffError } from "../../errors.js";
import type { RegistryClient } from "../../registry/client.js";
import type { RunStore } from "../../state/runs.js";
import { StageFailure, type StageRunners } from "../pipeline.js";
import { buildServices } from "./build.js";
import { loadRunSpec } from "./load-spec.js";
import { publishImages } from "./publish.js";
import { runTests, type TestResults } from "./test.js";

/** The real stage implementations, against the Docker Engine and the registry. */
export function createStageRunners(deps: {
  docker: Docker;
  registry: RegistryClient;
  config: SkiffConfig;
  runs: RunStore;
  /** Passed tests, so a push skips the tests of what it did not change. */
  testResults: TestResults;
  /** Absent: runs end with their release published (tests of the pipeline alone). */
  deployer?: Deployer;
}): StageRunners {
  const registryAddress = imageRegistryHost(deps.config);
  const external = deps.config.externalRegistry;
  const instance = instanceId(deps.config.home);
  const auth =
    external?.username && external.password
      ? { username: external.username, password: external.password }
      : undefined;
  // Said once per server, in the first run's build log, when builds cannot be given a lower weight.
  let buildWeightNoted = false;
  return {
    loadSpec: (app, sourceDir, log, config) => loadRunSpec(app, sourceDir, log, config),
    build: async (ctx) => {
      const weight = await lowerBuildCpuWeight();
      if ("reason" in weight && !buildWeightNoted) {
        buildWeightNoted = true;
        ctx.log(`build steps run at a live replica's CPU weight (${weight.reason})`);
      }
      return buildServices(
        {
          docker: deps.docker,
          registry: deps.registry,
          registryAddress,
          runs: deps.runs,
          ...(auth ? { auth } : {}),
        },
        ctx,
      );
    },
    test: (ctx, images) =>
      runTests(deps.docker, ctx, images, {
        ensureLocal: async (image) => {
          if (!image.reused) return;
          await ensureImage(deps.docker, {
            repository: image.repository,
            digest: image.reused.digest,
            tags: image.tags.slice(0, 1),
            registryUrl: deps.registry.url,
            ...(auth ? { auth } : {}),
            signal: ctx.signal,
            onProgress: (text) => ctx.log(text, image.service),
          });
        },
        results: deps.testResults,
        instance,
      }),
    publish: (ctx, images) =>
      publishImages(
        { docker: deps.docker, registry: deps.registry, ...(auth ? { auth } : {}) },
        ctx,
        images,
      ),
    deploy: async (ctx, releaseNumber) => {
      if (!deps.deployer) {
        ctx.log("no deploy engine configured: the release is published, not started");
        return "skipped";
      }
      try {
        await deps.deployer.deploy(ctx.app, releaseNumber, ctx.log, {
          signal: ctx.signal,
          onRollingBack: () => ctx.rollingBack(),
        });
      } catch (error) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        if (error instanceof DeployFailure) {
          throw new StageFailure(error.message, [
            ...(error.logTail.length > 0
              ? [`last ${error.logTail.length} lines of the failing container's log:`]
              : []),
            ...error.logTail.map((line) => `  | ${line}`),
            `the previous release keeps serving`,
          ]);
        }
        if (error instanceof SkiffError) {
          throw new StageFailure(error.message, [
            ...(error.hint ? [`hint: ${error.hint}`] : []),
            `the previous release keeps serving`,
          ]);
        }
        throw error;
      }
      return "deployed";
    },
  };
}
