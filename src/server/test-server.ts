/**
 * Test support for the HTTP tests beside it, never imported by the server: a
 * server from `buildHttpServer` on a real migrated database in a temporary
 * directory, with one app and the admin token, and fakes that fail the test
 * for every dependency the test does not hand in.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import type { AppService } from "../apps/app-service.js";
import { Pipeline, type StageRunners } from "../pipeline/pipeline.js";
import type { RegistryClient } from "../registry/client.js";
import { Sealer } from "../secrets/sealer.js";
import { type AppSpec, parseSpec } from "../spec/index.js";
import { ConfigStore } from "../state/app-config.js";
import { openDatabase } from "../state/database.js";
import { DeploymentStore } from "../state/deployments.js";
import { type ReleaseRecord, RunStore } from "../state/runs.js";
import { Store } from "../state/store.js";
import { hashToken, TokenStore } from "../state/tokens.js";
import { UploadSourceStore } from "../state/upload-sources.js";
import type { ProcessControl } from "./api/processes.js";
import { buildHttpServer, type HttpDependencies } from "./http.js";

export const TOKEN = "skiff_test-token";
/** The headers of a request that carries the admin token. */
export const AUTH = { authorization: `Bearer ${TOKEN}` };

/** A dependency the test never reaches. */
export function unreachable(): never {
  throw new Error("a dependency this test does not use was called");
}

/** An object whose every method is `unreachable`. */
export function unreachableObject<T extends object>(): T {
  return new Proxy({} as T, { get: () => unreachable });
}

/** The spec a compose file gives; throws on problems. */
export function specOf(compose: string): AppSpec {
  const parsed = parseSpec(compose, { fileName: "compose.yaml" });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.spec;
}

export interface TestServerOptions {
  /** The one app the server has; "shop" unless named. */
  app?: string;
  /** The pipeline stages the test runs, given the stores; every other stage is unreachable. */
  stages?: (stores: { runs: RunStore; deployments: DeploymentStore }) => Partial<StageRunners>;
  /** The deploy engine's deployer; without one the server has no deploy engine. */
  deployer?: ProcessControl;
  /** Fastify's logger; off unless given. */
  logger?: HttpDependencies["logger"];
}

export interface TestServer {
  server: FastifyInstance;
  store: Store;
  runs: RunStore;
  deployments: DeploymentStore;
  pipeline: Pipeline;
  tokens: TokenStore;
  /** Injects a request with the admin token. */
  request(
    method: InjectOptions["method"],
    url: string,
    payload?: InjectOptions["payload"],
  ): Promise<LightMyRequestResponse>;
  /** Records a release of the app as a push would; "live" and "failed" also deploy it so. */
  release(spec: AppSpec, status: "live" | "failed" | "published", commit: string): ReleaseRecord;
  /** Waits for the pipeline, closes the server and the database, and removes the directory. */
  close(): Promise<void>;
}

export function buildTestServer(options: TestServerOptions = {}): TestServer {
  const app = options.app ?? "shop";
  const dir = mkdtempSync(join(tmpdir(), "skiff-http-"));
  const db = openDatabase(join(dir, "skiff.db"));
  const store = new Store(db);
  store.addAdminTokenHash(hashToken(TOKEN));
  store.createApp(app);
  const runs = new RunStore(db);
  const deployments = new DeploymentStore(db);
  const stages = options.stages?.({ runs, deployments }) ?? {};
  const config = new ConfigStore(db, new Sealer(randomBytes(32)));
  const tokens = new TokenStore(db);
  const pipeline = new Pipeline({
    runs,
    config,
    runners: new Proxy(stages as StageRunners, {
      get: (target, key) => (key in target ? Reflect.get(target, key) : unreachable),
    }),
    runsRoot: join(dir, "runs"),
    workRoot: join(dir, "work"),
  });
  const server = buildHttpServer({
    store,
    apps: unreachableObject<AppService>(),
    status: unreachable,
    runs,
    pipeline,
    config,
    tokens,
    uploads: new UploadSourceStore(join(dir, "uploads")),
    runsRoot: join(dir, "runs"),
    workRoot: join(dir, "work"),
    bases: {
      docker: unreachableObject<Docker>(),
      registry: unreachableObject<RegistryClient>(),
      registryAddress: "127.0.0.1:5000",
      workDir: join(dir, "work"),
    },
    git: {
      reposRoot: join(dir, "repos"),
      hookToken: "hook-token",
      hookEnv: unreachable,
      onPush: unreachable,
      pushers: new Map(),
    },
    ...(options.deployer ? { deploy: { deployer: options.deployer, deployments } } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });

  return {
    server,
    store,
    runs,
    deployments,
    pipeline,
    tokens,
    request: (method, url, payload) =>
      server.inject({ method, url, headers: AUTH, ...(payload === undefined ? {} : { payload }) }),
    release(spec, status, commit) {
      const run = runs.createRun(app, { kind: "git-push", commit });
      const created = runs.createRelease({
        app,
        runId: run.id,
        commit,
        trigger: "git-push",
        spec,
        images: [
          {
            service: "web",
            image: `127.0.0.1:5000/${app}/web:${commit}`,
            digest: `sha256:${commit}`,
          },
        ],
        status: "published",
      });
      runs.finishRun(run.id, "succeeded", undefined, created.number);
      if (status === "live") deployments.setLive(app, created.number);
      if (status === "failed") deployments.markFailed(app, created.number);
      return created;
    },
    async close() {
      await pipeline.idle();
      await server.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
