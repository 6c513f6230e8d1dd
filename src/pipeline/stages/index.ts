import type Docker from "dockerode";
import type { SkiffConfig } from "../../config.js";
import type { RegistryClient } from "../../registry/client.js";
import type { RunStore } from "../../state/runs.js";
import type { StageRunners } from "../pipeline.js";
import { buildServices } from "./build.js";
import { loadRunSpec } from "./load-spec.js";
import { publishImages } from "./publish.js";
import { runTests } from "./test.js";

/** The real stage implementations, against the Docker Engine and the registry. */
export function createStageRunners(deps: {
  docker: Docker;
  registry: RegistryClient;
  config: SkiffConfig;
  runs: RunStore;
}): StageRunners {
  const registryAddress = deps.config.externalRegistry
    ? deps.config.externalRegistry.url.replace(/^https?:\/\//, "")
    : deps.config.registryAddress;
  const external = deps.config.externalRegistry;
  return {
    loadSpec: (app, sourceDir, log) => loadRunSpec(app, sourceDir, log),
    build: (ctx) => buildServices({ docker: deps.docker, registryAddress, runs: deps.runs }, ctx),
    test: (ctx, images) => runTests(deps.docker, ctx, images),
    publish: (ctx, images) =>
      publishImages(
        {
          docker: deps.docker,
          registry: deps.registry,
          ...(external?.username && external.password
            ? { auth: { username: external.username, password: external.password } }
            : {}),
        },
        ctx,
        images,
      ),
    deploy: async (ctx) => {
      // Rollouts to containers behind the edge arrive with the deploy engine;
      // until then a run ends with its release published.
      ctx.log("no deploy engine yet: the release is published, not started");
      return "skipped";
    },
  };
}
