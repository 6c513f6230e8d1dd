import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import { LABELS } from "../../docker/engine.js";
import type { PlanService } from "../../spec/index.js";
import type { BuiltImage, RunContext } from "../pipeline.js";
import { StageFailure } from "../pipeline.js";

/** Throwaway test objects carry this label, so a crash leaves nothing a cleanup cannot find. */
export const TEST_RUN_LABEL = "skiff.test-run";

/** The image a service runs in this run: the one just built, or the one the spec names. */
function imageFor(service: PlanService, images: BuiltImage[]): string {
  const built = images.find((i) => i.service === service.name);
  if (built) return `${built.repository}:${built.tags[0]}`;
  if (service.source.type === "image") return service.source.image;
  throw new StageFailure(`service ${service.name} has no image to test`);
}

/** Every service `name` depends on, transitively, dependencies first. */
export function dependencyClosure(services: PlanService[], name: string): PlanService[] {
  const byName = new Map(services.map((s) => [s.name, s]));
  const ordered: PlanService[] = [];
  const visit = (current: string) => {
    for (const dep of byName.get(current)?.dependsOn ?? []) {
      const service = byName.get(dep.service);
      if (service && !ordered.includes(service)) {
        visit(service.name);
        ordered.push(service);
      }
    }
  };
  visit(name);
  return ordered;
}

/** The container a test entry runs in: the service's fresh image, its environment, `sh -c RUN`. */
export function toTestContainerOptions(input: {
  app: string;
  runNumber: number;
  service: PlanService;
  image: string;
  command: string;
  network: string;
}): Docker.ContainerCreateOptions {
  return {
    Image: input.image,
    Entrypoint: ["/bin/sh", "-c"],
    Cmd: [input.command],
    Env: Object.entries(input.service.container.environment).map(([k, v]) => `${k}=${v}`),
    ...(input.service.container.workingDir
      ? { WorkingDir: input.service.container.workingDir }
      : {}),
    ...(input.service.container.user ? { User: input.service.container.user } : {}),
    Labels: {
      [LABELS.app]: input.app,
      [TEST_RUN_LABEL]: String(input.runNumber),
    },
    HostConfig: { NetworkMode: input.network, AutoRemove: false },
  };
}

/** A dependency started for a test: reachable by its service name on the throwaway network. */
export function toDependencyContainerOptions(input: {
  app: string;
  runNumber: number;
  service: PlanService;
  image: string;
  network: string;
}): Docker.ContainerCreateOptions {
  const { container } = input.service;
  return {
    Image: input.image,
    ...(container.entrypoint ? { Entrypoint: container.entrypoint } : {}),
    ...(container.command ? { Cmd: container.command } : {}),
    Env: Object.entries(container.environment).map(([k, v]) => `${k}=${v}`),
    ...(container.workingDir ? { WorkingDir: container.workingDir } : {}),
    ...(container.user ? { User: container.user } : {}),
    Labels: { [LABELS.app]: input.app, [TEST_RUN_LABEL]: String(input.runNumber) },
    ...(input.service.health.type === "docker" && input.service.health.test
      ? {
          Healthcheck: {
            Test: input.service.health.test,
            Interval: input.service.health.intervalMs * 1e6,
            Timeout: input.service.health.timeoutMs * 1e6,
            Retries: input.service.health.retries,
            StartPeriod: input.service.health.startPeriodMs * 1e6,
          },
        }
      : {}),
    HostConfig: { NetworkMode: input.network },
    NetworkingConfig: { EndpointsConfig: { [input.network]: { Aliases: [input.service.name] } } },
  };
}

async function waitHealthy(docker: Docker, id: string, service: PlanService, signal: AbortSignal) {
  if (service.health.type !== "docker") return;
  const deadline = Date.now() + service.health.deadlineMs;
  while (Date.now() < deadline && !signal.aborted) {
    const state = (await docker.getContainer(id).inspect()).State;
    if (state.Health?.Status === "healthy") return;
    if (!state.Running) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new StageFailure(`dependency ${service.name} did not become healthy for the tests`);
}

/**
 * Runs each `x-skiff.test` entry in a container from the freshly built image,
 * on a throwaway network where the services it depends on also run, so a
 * test reaches its database by name. Everything is removed afterwards,
 * whether the tests pass, fail or are cancelled.
 */
export async function runTests(
  docker: Docker,
  ctx: RunContext,
  images: BuiltImage[],
  /** Brings a reused image (maybe only in the registry) onto the Docker host under its run tag. */
  ensureLocal: (image: BuiltImage) => Promise<void>,
): Promise<"passed" | "none"> {
  const tests = ctx.plan.tests;
  if (tests.length === 0) {
    ctx.log("no x-skiff.test entries; nothing to run");
    return "none";
  }
  for (const image of images) if (image.reused) await ensureLocal(image);
  const containers: string[] = [];
  const networkName = `skiff-test-${ctx.app}-${ctx.run.number}`;
  let networkId: string | undefined;
  try {
    for (const [index, entry] of tests.entries()) {
      const service = ctx.plan.services.find((s) => s.name === entry.service);
      if (!service)
        throw new StageFailure(`test ${index + 1} names unknown service ${entry.service}`);
      const network = await docker.createNetwork({
        Name: `${networkName}-${index + 1}`,
        Labels: { [LABELS.app]: ctx.app, [TEST_RUN_LABEL]: String(ctx.run.number) },
      });
      networkId = network.id;
      for (const dependency of dependencyClosure(ctx.plan.services, service.name)) {
        const created = await docker.createContainer(
          toDependencyContainerOptions({
            app: ctx.app,
            runNumber: ctx.run.number,
            service: dependency,
            image: imageFor(dependency, images),
            network: network.id,
          }),
        );
        containers.push(created.id);
        await created.start();
        ctx.log(`started ${dependency.name} for the tests`, entry.service);
        await waitHealthy(docker, created.id, dependency, ctx.signal);
      }
      ctx.log(`$ ${entry.run}`, entry.service);
      const container = await docker.createContainer(
        toTestContainerOptions({
          app: ctx.app,
          runNumber: ctx.run.number,
          service,
          image: imageFor(service, images),
          command: entry.run,
          network: network.id,
        }),
      );
      containers.push(container.id);
      const output = await container.attach({ stream: true, stdout: true, stderr: true });
      const lines: string[] = [];
      const sink = new PassThrough();
      docker.modem.demuxStream(output, sink, sink);
      let partial = "";
      sink.on("data", (chunk: Buffer) => {
        const text = partial + chunk.toString("utf8");
        const parts = text.split("\n");
        partial = parts.pop() ?? "";
        for (const line of parts) {
          lines.push(line);
          ctx.log(line, entry.service);
        }
      });
      const onAbort = () => void container.kill().catch(() => {});
      ctx.signal.addEventListener("abort", onAbort);
      await container.start();
      const { StatusCode } = (await container.wait()) as { StatusCode: number };
      ctx.signal.removeEventListener("abort", onAbort);
      if (partial) ctx.log(partial, entry.service);
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (StatusCode !== 0) {
        throw new StageFailure(`${entry.service}: \`${entry.run}\` exited with ${StatusCode}`);
      }
      ctx.log(`passed: ${entry.run}`, entry.service);
      await removeAll(docker, containers.splice(0), network.id);
      networkId = undefined;
    }
    return "passed";
  } finally {
    await removeAll(docker, containers, networkId);
  }
}

async function removeAll(docker: Docker, containers: string[], networkId: string | undefined) {
  for (const id of containers) {
    await docker
      .getContainer(id)
      .remove({ force: true, v: true })
      .catch(() => {});
  }
  if (networkId) {
    await docker
      .getNetwork(networkId)
      .remove()
      .catch(() => {});
  }
}
