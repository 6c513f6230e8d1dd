import { createHash } from "node:crypto";
import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import { dependencyLevels } from "../../deploy/desired.js";
import { toTestContainerCreateOptions } from "../../deploy/docker/container-spec.js";
import { waitUntilHealthy } from "../../deploy/docker/health.js";
import { putReleaseFiles } from "../../deploy/docker/replica-lifecycle.js";
import { LABELS } from "../../docker/engine.js";
import { isGone, unless } from "../../docker/errors.js";
import type { PlanService } from "../../spec/index.js";
import type { BuiltImage, RunContext } from "../pipeline.js";
import { StageFailure } from "../pipeline.js";
import { FILES_LABEL, type TestContainer, testKey } from "./test-key.js";

/**
 * Removes the test containers and networks of this installation that a
 * server stop or crash left behind (a test stage cleans up after itself
 * otherwise). Call it when no run is in flight: at server start, after the
 * unfinished runs are marked interrupted. Returns how many objects went.
 */
export async function removeTestLeftovers(docker: Docker, instance: string): Promise<number> {
  const label = [LABELS.testRun, `${LABELS.instance}=${instance}`];
  const containers = await docker.listContainers({ all: true, filters: { label } });
  const networks = await docker.listNetworks({ filters: { label } });
  await removeAll(
    docker,
    containers.map((c) => c.Id),
    networks.map((n) => n.Id),
  );
  return containers.length + networks.length;
}

/** The image a service runs in this run: the one just built, or the one the spec names. */
function imageFor(service: PlanService, images: BuiltImage[]): string {
  const built = images.find((i) => i.service === service.name);
  if (built) return `${built.repository}:${built.tags[0]}`;
  if (service.source.type === "image") return service.source.image;
  throw new StageFailure(`service ${service.name} has no image to test`);
}

/**
 * Labels the test key's copy of a container's options with the digest of its
 * service's release files, so a changed secret or config file changes the
 * test's key and it runs again (the containers that run carry no such label).
 */
function withFilesLabel<T extends { Labels?: Record<string, string> }>(
  options: T,
  files: Buffer | undefined,
): T {
  if (!files) return options;
  const digest = createHash("sha256").update(files).digest("hex");
  return { ...options, Labels: { ...options.Labels, [FILES_LABEL]: `sha256:${digest}` } };
}

/** The release's files in a test container, as in a replica; a failure fails the stage. */
async function putTestFiles(
  container: Docker.Container,
  files: Buffer,
  service: PlanService,
): Promise<void> {
  try {
    await putReleaseFiles(container, files, service);
  } catch (error) {
    throw new StageFailure((error as Error).message);
  }
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

/** Labels of every throwaway test object: the app, the run, and the installation. */
export function testLabels(input: { app: string; runNumber: number; instance?: string }) {
  return {
    [LABELS.app]: input.app,
    [LABELS.testRun]: String(input.runNumber),
    ...(input.instance ? { [LABELS.instance]: input.instance } : {}),
  };
}

/** Waits until a dependency started for a test is healthy by its Docker healthcheck (other kinds are not waited for). */
async function waitHealthy(docker: Docker, id: string, service: PlanService, signal: AbortSignal) {
  if (service.health.type !== "docker") return;
  const verdict = await waitUntilHealthy(docker, id, service.health, { signal });
  if (!verdict.healthy) {
    throw new StageFailure(
      `dependency ${service.name} did not become healthy for the tests: ${verdict.reason}`,
    );
  }
}

/** Where passed tests are remembered (TestResultStore). */
export interface TestResults {
  passedIn(app: string, testKey: string): number | undefined;
  recordPass(app: string, testKey: string, runNumber: number): void;
}

/**
 * Runs each `x-skiff.test` entry in a container from the freshly built image,
 * on a throwaway network where the services it depends on also run, so a
 * test reaches its database by name. Everything is removed afterwards,
 * whether the tests pass, fail or are cancelled.
 *
 * An entry that already passed with the same containers from the same images
 * (see test-key.ts) is skipped and says in which run it passed, unless it
 * says `cache: false`.
 */
export async function runTests(
  docker: Docker,
  ctx: RunContext,
  images: BuiltImage[],
  deps: {
    /** Brings a reused image (maybe only in the registry) onto the Docker host under its run tag. */
    ensureLocal: (image: BuiltImage) => Promise<void>;
    results: TestResults;
    /** LABELS.instance of this installation: in the names and labels of test objects. */
    instance: string;
  },
): Promise<"passed" | "none"> {
  const { ensureLocal, results, instance } = deps;
  const tests = ctx.plan.tests;
  if (tests.length === 0) {
    ctx.log("no x-skiff.test entries; nothing to run");
    return "none";
  }
  // The instance keeps two installations on one Docker host apart (same app name, same run number).
  const networkName = `skiff-test-${ctx.app}-${ctx.run.number}-${instance}`;
  const imageIds = imageIdLookup(docker, images, ensureLocal);
  for (const [index, entry] of tests.entries()) {
    const service = ctx.plan.services.find((s) => s.name === entry.service);
    if (!service)
      throw new StageFailure(`test ${index + 1} names unknown service ${entry.service}`);
    const dependencies = dependencyClosure(ctx.plan.services, service.name);
    const containers = (network: string) => ({
      dependencies: dependencies.map((dependency) => ({
        service: dependency,
        options: toTestContainerCreateOptions({
          app: ctx.app,
          service: dependency,
          image: imageFor(dependency, images),
          network,
          labels: testLabels({ app: ctx.app, runNumber: ctx.run.number, instance }),
        }),
      })),
      test: toTestContainerCreateOptions({
        app: ctx.app,
        service,
        image: imageFor(service, images),
        network,
        labels: testLabels({ app: ctx.app, runNumber: ctx.run.number, instance }),
        command: entry.run,
      }),
    });
    // The key also covers the release files' bytes, so a changed secret or
    // config runs the test again. They count through a label of the key's
    // copy only: no container carries a digest of a secret.
    const keyed = (entry: ReturnType<typeof containers>): ReturnType<typeof containers> => ({
      dependencies: entry.dependencies.map((d) => ({
        ...d,
        options: withFilesLabel(d.options, ctx.files[d.service.name]),
      })),
      test: withFilesLabel(entry.test, ctx.files[service.name]),
    });
    // Computing the key also brings reused images onto the Docker host, which running needs.
    const key = await keyOf(keyed(containers("")), imageIds);
    const passedIn =
      key === undefined || entry.cache === false ? undefined : results.passedIn(ctx.app, key);
    if (passedIn !== undefined) {
      ctx.log(
        `skipped \`${entry.run}\`: it passed in run ${passedIn} with the same images and settings`,
        entry.service,
      );
      continue;
    }
    await runTestEntry(docker, ctx, entry, `${networkName}-${index + 1}`, instance, containers);
    if (key !== undefined) results.recordPass(ctx.app, key, ctx.run.number);
  }
  return "passed";
}

type EntryContainers = {
  dependencies: { service: PlanService; options: Docker.ContainerCreateOptions }[];
  test: Docker.ContainerCreateOptions;
};

/** The test key of an entry's containers; undefined when an image's id cannot be read (then the test runs). */
async function keyOf(
  containers: EntryContainers,
  imageIds: (reference: string) => Promise<string | undefined>,
): Promise<string | undefined> {
  const withId = async (options: Docker.ContainerCreateOptions) => {
    const imageId = options.Image ? await imageIds(options.Image) : undefined;
    return imageId === undefined ? undefined : { options, imageId };
  };
  const test = await withId(containers.test);
  const dependencies = await Promise.all(containers.dependencies.map((d) => withId(d.options)));
  if (!test || dependencies.some((d) => d === undefined)) return undefined;
  return testKey(test, dependencies as TestContainer[]);
}

/** Image ids by reference, bringing reused images onto the Docker host first; cached for the run. */
function imageIdLookup(
  docker: Docker,
  images: BuiltImage[],
  ensureLocal: (image: BuiltImage) => Promise<void>,
): (reference: string) => Promise<string | undefined> {
  const ids = new Map<string, Promise<string | undefined>>();
  return (reference) => {
    let id = ids.get(reference);
    if (!id) {
      const reused = images.find((i) => i.reused && `${i.repository}:${i.tags[0]}` === reference);
      id = (async () => {
        if (reused) await ensureLocal(reused);
        return docker
          .getImage(reference)
          .inspect()
          .then(
            (info) => info.Id,
            // An image not on the host (an `image:` the run could not pull): no key, the test runs.
            (error: unknown) => {
              if (isGone(error)) return undefined;
              throw error;
            },
          );
      })();
      ids.set(reference, id);
    }
    return id;
  };
}

/** One entry: its dependencies started and healthy, then the command; everything removed after. */
async function runTestEntry(
  docker: Docker,
  ctx: RunContext,
  entry: { service: string; run: string },
  networkName: string,
  instance: string,
  containersOn: (network: string) => EntryContainers,
): Promise<void> {
  const created: string[] = [];
  const network = await docker.createNetwork({
    Name: networkName,
    Labels: testLabels({ app: ctx.app, runNumber: ctx.run.number, instance }),
  });
  try {
    const containers = containersOn(network.id);
    // Dependencies that do not depend on each other start and become healthy
    // at the same time, level after level, as a deploy starts services.
    // Every start settles before the first failure is thrown, so the cleanup
    // below knows every container that was created.
    for (const level of dependencyLevels(containers.dependencies.map((d) => d.service))) {
      const results = await Promise.allSettled(
        level.map(async (service) => {
          const dependency = containers.dependencies.find((d) => d.service === service);
          if (!dependency) return;
          const container = await docker.createContainer(dependency.options);
          created.push(container.id);
          const files = ctx.files[service.name];
          if (files) await putTestFiles(container, files, service);
          await container.start();
          ctx.log(`started ${service.name} for the tests`, entry.service);
          await waitHealthy(docker, container.id, service, ctx.signal);
        }),
      );
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
    }
    ctx.log(`$ ${entry.run}`, entry.service);
    const container = await docker.createContainer(containers.test);
    created.push(container.id);
    const testFiles = ctx.files[entry.service];
    const testService = ctx.plan.services.find((s) => s.name === entry.service);
    if (testFiles && testService) await putTestFiles(container, testFiles, testService);
    const output = await container.attach({ stream: true, stdout: true, stderr: true });
    const sink = new PassThrough();
    docker.modem.demuxStream(output, sink, sink);
    let partial = "";
    sink.on("data", (chunk: Buffer) => {
      const parts = (partial + chunk.toString("utf8")).split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) ctx.log(line, entry.service);
    });
    // Already stopped or gone: the wait below ends anyway. Any other answer
    // is said; the cleanup below removes the container with force.
    const onAbort = () =>
      void container
        .kill()
        .catch(unless("notRunning", "noSuchObject"))
        .catch((error: Error) =>
          ctx.log(`could not stop the test on cancel: ${error.message}`, entry.service),
        );
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
  } finally {
    // A cleanup that fails must not hide the test's own outcome: it is said,
    // and what is left is removed at the next server start (removeTestLeftovers).
    await removeAll(docker, created, [network.id]).catch((error: Error) =>
      ctx.log(`could not remove the test's containers: ${error.message}`, entry.service),
    );
  }
}

/** Removes containers (with their anonymous volumes), then networks; already gone is fine. */
async function removeAll(docker: Docker, containers: string[], networks: string[]) {
  await Promise.all(
    containers.map((id) =>
      docker
        .getContainer(id)
        .remove({ force: true, v: true })
        .catch(unless("noSuchObject", "inProgress")),
    ),
  );
  await Promise.all(
    networks.map((id) => docker.getNetwork(id).remove().catch(unless("noSuchObject"))),
  );
}
