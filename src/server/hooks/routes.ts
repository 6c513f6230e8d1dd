import type { FastifyInstance } from "fastify";
import { ConflictError, NotFoundError, UnauthorizedError, ValidationError } from "../../errors.js";
import type { Pipeline } from "../../pipeline/pipeline.js";
import { fetchedCommitSource } from "../../pipeline/triggers/fetched-commit.js";
import type { Store } from "../../state/store.js";
import { refuse } from "../unread-body.js";
import {
  credentialHeaderProblem,
  deliveryKeys,
  FORGES,
  type Forge,
  isPushEvent,
  parsePushEvent,
  verifyWebhook,
} from "./verify.js";

/** GitHub caps webhook payloads at 25 MB and drops bigger ones; GitLab and Gitea send less. */
export const WEBHOOK_BODY_LIMIT_BYTES = 25 * 1024 * 1024;
/** Webhook bodies read at once; a forge retries a 503 later, so more need not wait in memory. */
export const WEBHOOK_CONCURRENT_BODIES = 4;
/** Seconds a forge is asked to wait when every body slot is taken. */
const RETRY_AFTER_SECONDS = 5;

export interface WebhookRouteOptions {
  store: Store;
  pipeline: Pipeline;
  reposRoot: string;
  /** Defaults to WEBHOOK_CONCURRENT_BODIES; tests lower it. */
  concurrentBodies?: number;
  /** Defaults to WEBHOOK_BODY_LIMIT_BYTES. */
  bodyLimit?: number;
}

const notVerified = (reason?: string) =>
  new UnauthorizedError(
    reason ? `the webhook could not be verified: ${reason}` : "the webhook could not be verified",
    "configure the webhook with the secret `skiff apps:webhook APP --reveal` shows",
  );

/**
 * `POST /hooks/github|gitlab|gitea/APP`: a verified push to the app's deploy
 * branch starts a run that fetches the branch from the app's repository and
 * deploys its tip. Answers 202 at once (forges give up after ~10 s); the run
 * is then followed with `skiff runs`. A delivery already acted on answers 200
 * and starts nothing.
 */
export function registerWebhookRoutes(app: FastifyInstance, options: WebhookRouteOptions): void {
  const bodyLimit = options.bodyLimit ?? WEBHOOK_BODY_LIMIT_BYTES;
  const concurrentBodies = options.concurrentBodies ?? WEBHOOK_CONCURRENT_BODIES;

  app.register(async (scope) => {
    let reading = 0;
    // The signature covers the exact bytes sent, so the body must stay raw.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit }, (_req, body, done) =>
      done(null, body),
    );

    // onRequest runs before Fastify reads the body (the lifecycle is
    // onRequest → preParsing → parsing → handler), so everything that can be
    // judged from the URL and the headers is judged here: a delivery that can
    // never verify costs no memory, and the HTTP error handler refuses it
    // without reading what it still sends (see `refuse`).
    scope.addHook("onRequest", async (request, reply) => {
      const { forge, app: name } = request.params as { forge?: string; app?: string };
      if (!FORGES.includes(forge as Forge)) {
        throw new NotFoundError(
          `no webhook for "${forge}"`,
          `use one of /hooks/${FORGES.join("|")}/APP`,
        );
      }
      const problem = credentialHeaderProblem(forge as Forge, request.headers);
      if (problem) throw notVerified(problem);
      // Same answer for an unknown app and one without a secret: a caller
      // without the secret learns nothing about which apps exist.
      if (!name || !options.store.existingWebhookSecret(name)) throw notVerified();
      const length = Number(request.headers["content-length"] ?? 0);
      if (length > bodyLimit) {
        return refuse(request, reply, 413, {
          error: {
            code: "too_large",
            message: `the webhook body of ${length} bytes is over the limit of ${bodyLimit}`,
          },
        });
      }
      if (reading >= concurrentBodies) {
        return refuse(
          request,
          reply,
          503,
          {
            error: {
              code: "busy",
              message: `${concurrentBodies} webhook deliveries are being received; try again shortly`,
              hint: "forges retry a 503 delivery; nothing was lost",
            },
          },
          { "retry-after": String(RETRY_AFTER_SECONDS) },
        );
      }
      reading++;
      // 'close' fires once per response, whether it finished or the client
      // went away mid-body, so the slot is always given back.
      reply.raw.once("close", () => {
        reading--;
      });
    });

    scope.post<{ Params: { forge: string; app: string } }>(
      "/hooks/:forge/:app",
      async (request, reply) => {
        const forge = request.params.forge as Forge;
        const app = options.store.getApp(request.params.app);
        const secret = app ? options.store.existingWebhookSecret(app.name) : undefined;
        // The app may have gone while the body arrived.
        if (!app || !secret) throw notVerified();
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const verification = verifyWebhook(forge, request.headers, body, secret);
        if (!verification.ok) {
          request.log.warn({ app: app.name, forge }, `webhook rejected: ${verification.reason}`);
          throw notVerified(verification.reason);
        }
        const keys = deliveryKeys(forge, request.headers, body);
        if (options.store.isKnownDelivery(app.name, keys)) {
          reply.code(200);
          return { accepted: false, reason: "this delivery was already received; nothing to do" };
        }
        // From here to each answer nothing awaits, so two copies of one
        // delivery arriving together cannot both pass the check above.
        const answer = (accepted: boolean, extra: Record<string, unknown>) => {
          options.store.rememberDelivery(app.name, keys);
          reply.code(202);
          return { accepted, ...extra };
        };
        if (!isPushEvent(forge, request.headers)) {
          return answer(false, { reason: "not a push event; nothing to do" });
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
          return answer(false, {
            reason: `${push.ref} is not the deploy branch (${app.deployBranch})`,
          });
        }
        if (/^0+$/.test(push.after)) {
          return answer(false, { reason: "the branch was deleted; nothing to deploy" });
        }
        if (!app.repoUrl) {
          throw new ConflictError(
            `${app.name} has no repository URL to fetch the branch from`,
            `set it: skiff apps:set ${app.name} repo=URL`,
          );
        }
        // The payload's commit only tells the run what the forge saw: the run
        // deploys whatever the branch points to once Skiff fetched it, so a
        // replayed old delivery cannot roll the app back.
        const submitted = options.pipeline.submit(
          app.name,
          { kind: `webhook:${forge}`, ref: push.ref, actor: `webhook:${forge}` },
          fetchedCommitSource({
            reposRoot: options.reposRoot,
            app: app.name,
            repoUrl: app.repoUrl,
            branch: app.deployBranch,
            announcedCommit: push.after,
          }),
        );
        return answer(true, { run: submitted.run.number });
      },
    );
  });
}
