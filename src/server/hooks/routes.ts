import type { FastifyInstance } from "fastify";
import { ConflictError, NotFoundError, UnauthorizedError, ValidationError } from "../../errors.js";
import type { Pipeline } from "../../pipeline/pipeline.js";
import { fetchedCommitSource } from "../../pipeline/triggers/fetched-commit.js";
import type { Store } from "../../state/store.js";
import { FORGES, type Forge, isPushEvent, parsePushEvent, verifyWebhook } from "./verify.js";

export interface WebhookRouteOptions {
  store: Store;
  pipeline: Pipeline;
  reposRoot: string;
}

/**
 * `POST /hooks/github|gitlab|gitea/APP`: a verified push to the app's deploy
 * branch starts a run that fetches the commit from the app's repository.
 * Answers 202 at once (forges give up after ~10 s); the run is then
 * followed with `skiff runs`.
 */
export function registerWebhookRoutes(app: FastifyInstance, options: WebhookRouteOptions): void {
  app.register(async (scope) => {
    // The signature covers the exact bytes sent, so the body must stay raw.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      "*",
      { parseAs: "buffer", bodyLimit: 25 * 1024 * 1024 },
      (_req, body, done) => done(null, body),
    );

    scope.post<{ Params: { forge: string; app: string } }>(
      "/hooks/:forge/:app",
      async (request, reply) => {
        const forge = request.params.forge as Forge;
        if (!FORGES.includes(forge)) {
          throw new NotFoundError(
            `no webhook for "${request.params.forge}"`,
            `use one of /hooks/${FORGES.join("|")}/APP`,
          );
        }
        const app = options.store.getApp(request.params.app);
        const secret = app ? options.store.webhookSecret(app.name) : undefined;
        if (!app || !secret) {
          // Same answer for an unknown app and a wrong signature: a caller
          // without the secret learns nothing about which apps exist.
          throw new UnauthorizedError(
            "the webhook could not be verified",
            "configure the webhook with the secret `skiff apps:webhook APP` shows",
          );
        }
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const verification = verifyWebhook(forge, request.headers, body, secret);
        if (!verification.ok) {
          request.log.warn({ app: app.name, forge }, `webhook rejected: ${verification.reason}`);
          throw new UnauthorizedError(`the webhook could not be verified: ${verification.reason}`);
        }
        if (!isPushEvent(forge, request.headers)) {
          reply.code(202);
          return { accepted: false, reason: "not a push event; nothing to do" };
        }
        let payload: unknown;
        try {
          payload = JSON.parse(body.toString("utf8"));
        } catch {
          throw new ValidationError(
            "the webhook body is not JSON",
            "send the forge's push payload as application/json",
          );
        }
        const push = parsePushEvent(payload);
        if (!push) {
          throw new ValidationError(
            "the push payload has no valid `ref` and `after`",
            "send the forge's push event unchanged",
          );
        }
        if (push.ref !== `refs/heads/${app.deployBranch}`) {
          reply.code(202);
          return {
            accepted: false,
            reason: `${push.ref} is not the deploy branch (${app.deployBranch})`,
          };
        }
        if (/^0+$/.test(push.after)) {
          reply.code(202);
          return { accepted: false, reason: "the branch was deleted; nothing to deploy" };
        }
        if (!app.repoUrl) {
          throw new ConflictError(
            `${app.name} has no repository URL to fetch the commit from`,
            `set it: skiff apps:set ${app.name} repo=URL`,
          );
        }
        const submitted = options.pipeline.submit(
          app.name,
          { kind: `webhook:${forge}`, commit: push.after, ref: push.ref },
          fetchedCommitSource({
            reposRoot: options.reposRoot,
            app: app.name,
            repoUrl: app.repoUrl,
            branch: app.deployBranch,
            commit: push.after,
          }),
        );
        reply.code(202);
        return { accepted: true, run: submitted.run.number };
      },
    );
  });
}
