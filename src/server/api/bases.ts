import type Docker from "dockerode";
import type { FastifyInstance } from "fastify";
import { type BaseImageEvent, buildBaseImage, listBaseImages } from "../../bases/index.js";
import { SkiffError, ValidationError } from "../../errors.js";
import type { RegistryClient } from "../../registry/client.js";

export interface BaseRoutesDependencies {
  docker: Docker;
  registry: RegistryClient;
  registryAddress: string;
  workDir: string;
}

/** One line of a base build's progress stream (NDJSON). */
export type BaseBuildLine =
  | { type: "progress"; text: string }
  | { type: "result"; result: unknown }
  | { type: "error"; message: string; hint?: string };

const NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const PACKAGE = /^[a-z0-9][a-z0-9+.-]+$/;

function describe(event: BaseImageEvent): string | undefined {
  if (event.type === "phase") return `-----> ${event.phase}: ${event.message}`;
  if (event.type === "output") return `       ${event.text}`;
  if (/^(Pushed|Layer already exists)/.test(event.status))
    return `       ${event.id}: ${event.status}`;
  return undefined;
}

/**
 * Base images from Debian's packages, for hosts without an internet
 * registry. Building one takes about a minute, so the answer streams
 * progress as NDJSON lines and ends with the result or the error.
 */
export function registerBaseRoutes(app: FastifyInstance, deps: BaseRoutesDependencies): void {
  app.get("/api/v1/bases", async () => ({
    bases: await listBaseImages(deps.docker, deps.registry),
  }));

  app.post<{
    Body: { name?: unknown; packages?: unknown; suite?: unknown; force?: unknown } | undefined;
  }>("/api/v1/bases", async (request, reply) => {
    const body = request.body ?? {};
    const name = body.name;
    if (typeof name !== "string" || !NAME.test(name)) {
      throw new ValidationError(
        `base image name ${JSON.stringify(name)} is not valid`,
        "use lowercase letters and digits, optionally joined by . _ or - (e.g. node)",
      );
    }
    const packages = body.packages ?? [];
    if (
      !Array.isArray(packages) ||
      !packages.every((p) => typeof p === "string" && PACKAGE.test(p))
    ) {
      throw new ValidationError(
        `packages ${JSON.stringify(packages)} are not Debian package names`,
        "list package names such as nodejs,ca-certificates",
      );
    }
    const suite = body.suite ?? "bookworm";
    if (typeof suite !== "string" || !/^[a-z]+$/.test(suite)) {
      throw new ValidationError(
        `suite ${JSON.stringify(suite)} is not a Debian suite name`,
        "e.g. bookworm",
      );
    }
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      "content-type": "application/x-ndjson; charset=utf-8",
      "cache-control": "no-cache",
    });
    const send = (line: BaseBuildLine) => raw.write(`${JSON.stringify(line)}\n`);
    const controller = new AbortController();
    raw.on("close", () => {
      if (!raw.writableFinished) controller.abort(new Error("the client went away"));
    });
    try {
      const result = await buildBaseImage(
        {
          name,
          packages: packages as string[],
          suite,
          registryAddress: deps.registryAddress,
          docker: deps.docker,
          workDir: deps.workDir,
          registry: deps.registry,
          force: body.force === true,
          signal: controller.signal,
        },
        (event) => {
          const text = describe(event);
          if (text !== undefined) send({ type: "progress", text });
        },
      );
      send({ type: "result", result });
    } catch (error) {
      send({
        type: "error",
        message: (error as Error).message,
        ...(error instanceof SkiffError && error.hint ? { hint: error.hint } : {}),
      });
    }
    raw.end();
  });
}
