import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { NotFoundError, ValidationError } from "../../errors.js";
import { type Pipeline, StageFailure } from "../../pipeline/pipeline.js";
import { saveUpload, uploadedTreeSource } from "../../pipeline/triggers/upload.js";
import type { Store } from "../../state/store.js";
import { actorOf } from "../actor.js";

/** Uploads above this are refused: a source tree, not a build output. */
const UPLOAD_LIMIT_BYTES = 512 * 1024 * 1024;

export interface DeployRoutesDependencies {
  store: Store;
  pipeline: Pipeline;
  workRoot: string;
}

/**
 * `POST /api/v1/apps/APP/deploy` with a tar of a working tree (what `skiff
 * deploy` sends): the same pipeline as a push, without a commit. Answers 202
 * with the run number; progress is the run's event stream.
 */
export function registerDeployRoutes(app: FastifyInstance, deps: DeployRoutesDependencies): void {
  app.addContentTypeParser("application/x-tar", (_request, payload, done) => done(null, payload));

  app.post<{ Params: { name: string } }>("/api/v1/apps/:name/deploy", async (request, reply) => {
    const name = request.params.name;
    if (!deps.store.getApp(name)) {
      throw new NotFoundError(
        `no app named "${name}"`,
        `create it first: skiff apps:create ${name}`,
      );
    }
    if (!request.headers["content-type"]?.startsWith("application/x-tar")) {
      throw new ValidationError(
        "the deploy body must be a tar archive of the app's working tree",
        "send it with Content-Type: application/x-tar (skiff deploy does this)",
      );
    }
    const uploads = join(deps.workRoot, "uploads");
    mkdirSync(uploads, { recursive: true });
    const file = join(uploads, `${name}-${randomBytes(6).toString("hex")}.tar`);
    try {
      await saveUpload(request.body as Readable, file, UPLOAD_LIMIT_BYTES);
    } catch (error) {
      rmSync(file, { force: true });
      if (error instanceof StageFailure)
        throw new ValidationError(error.message, "leave build outputs out with .dockerignore");
      throw error;
    }
    const submitted = deps.pipeline.submit(
      name,
      { kind: "upload", actor: actorOf(request) },
      uploadedTreeSource(file),
    );
    void submitted.finished.finally(() => rmSync(file, { force: true }));
    reply.code(202);
    return { run: submitted.run.number };
  });
}
