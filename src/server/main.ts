import { execFile } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { AppService } from "../apps/app-service.js";
import { imageRegistryHost, type SkiffConfig } from "../config.js";
import { Deployer } from "../deploy/deployer.js";
import { DockerEngine } from "../deploy/docker/docker-engine.js";
import { ReleaseReader } from "../deploy/release.js";
import { connectDocker, instanceId } from "../docker/engine.js";
import { managedEdgeSpec } from "../edge/managed-edge.js";
import { DependencyError } from "../errors.js";
import { Pipeline } from "../pipeline/pipeline.js";
import { createStageRunners } from "../pipeline/stages/index.js";
import { removeTestLeftovers } from "../pipeline/stages/test.js";
import { handlePush, recordRefusedPush } from "../pipeline/triggers/git-push.js";
import { RegistryClient } from "../registry/client.js";
import { managedRegistrySpec, REGISTRY_BINARY } from "../registry/managed-registry.js";
import { portAnswers } from "../runtime/managed-process.js";
import { Reconciler } from "../runtime/reconciler.js";
import { collectStatus } from "../runtime/status.js";
import { DataPlaneSupervisor, type SupervisedProcess } from "../runtime/supervisor.js";
import { loadSecretKey } from "../secrets/secret-key.js";
import { ConfigStore } from "../state/app-config.js";
import { openDatabase } from "../state/database.js";
import { DeploymentStore } from "../state/deployments.js";
import { ReleaseFileStore } from "../state/release-files.js";
import { RunStore } from "../state/runs.js";
import { Store } from "../state/store.js";
import { TestResultStore } from "../state/test-results.js";
import { TokenStore } from "../state/tokens.js";
import { UploadSourceStore } from "../state/upload-sources.js";
import { SKIFF_VERSION } from "../version.js";
import { ensureAdminToken } from "./admin-token.js";
import { restrictHomeModes } from "./file-modes.js";
import { createHookToken, hookEnvironment, PRE_RECEIVE_PATH } from "./git/pre-receive-hook.js";
import { buildHttpServer } from "./http.js";

/** A running control plane; `close()` stops it and leaves the data plane serving. */
export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the control plane: state, admin token, the data plane (adopted or
 * started), the supervisor and the HTTP API. Resolves once it listens.
 */
export async function startServer(
  config: SkiffConfig,
  options: {
    log?: (line: string) => void;
    /** Where the HTTP server's request log goes (a RotatingLog for server.log); stdout when absent. */
    logStream?: { write(chunk: string): unknown };
  } = {},
): Promise<RunningServer> {
  // Until the secrets are read, nothing they could be in has been logged.
  let scrub = (text: string) => text;
  const rawLog = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const log = (line: string) => rawLog(scrub(line));
  const rawStream = options.logStream ?? process.stdout;
  const logStream = { write: (chunk: string) => rawStream.write(scrub(chunk)) };
  for (const dir of [config.home, config.paths.run, config.paths.logs]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  const store = new Store(openDatabase(config.paths.database));
  // Installations from before Skiff enforced modes had a 0755 home and 0644
  // files (the umask's); fixed at every start, not only on creation.
  restrictHomeModes(config.home, config.paths);
  // Before anything reads a secret: a key file that does not match stops the start here.
  const sealer = loadSecretKey(config.paths.secretKey, store);
  store.sealWith(sealer);
  const appConfig = new ConfigStore(store.db, sealer);
  scrub = (text) => appConfig.scrubber().scrub(text);
  store.scrubEventsWith(scrub);
  const token = ensureAdminToken(store, config.paths.adminToken);
  if (token.created) {
    log(`skiff: created the admin token in ${config.paths.adminToken} (mode 0600)`);
  } else if (token.missing) {
    log(
      `skiff: warning: ${config.paths.adminToken} is gone, and only its hash is stored, so the CLI on this host cannot authenticate. Restore the file, or stop the server, delete the admin_tokens rows of ${config.paths.database} and start it again to mint a new token.`,
    );
  }

  if (await portAnswers(config.port)) {
    store.db.close();
    throw new DependencyError(
      `port ${config.port} is already in use, so this skiff server cannot listen there`,
      "another skiff server may be running (skiff server status); or choose another port with --port / SKIFF_PORT",
    );
  }

  const docker = connectDocker(config.dockerSocket);
  // The router's own lines (reloads, requests cut after a drain) go to the server's log.
  const edge = managedEdgeSpec(config, { log: (line) => log(`skiff: ${line}`) });
  const processes: SupervisedProcess[] = [edge];
  const registryUrl = config.externalRegistry?.url ?? `http://${config.registryAddress}`;
  if (!config.externalRegistry) processes.unshift(managedRegistrySpec(config));
  const registry = new RegistryClient({
    url: registryUrl,
    ...(config.externalRegistry?.username && config.externalRegistry.password
      ? {
          credentials: {
            username: config.externalRegistry.username,
            password: config.externalRegistry.password,
          },
        }
      : {}),
  });

  const logger = {
    info: (m: string) => log(`skiff: ${m}`),
    warn: (m: string) => log(`skiff: warning: ${m}`),
    error: (m: string) => log(`skiff: error: ${m}`),
  };
  const supervisor = new DataPlaneSupervisor({ processes, store, logger });
  await supervisor.ensureAll();
  supervisor.start();

  const runs = new RunStore(store.db, undefined, sealer);
  for (const run of runs.interruptUnfinished(
    "the Skiff server stopped while this run was in flight",
  )) {
    logger.warn(`run ${run.number} of ${run.app} was interrupted by a server stop`);
  }
  const instance = instanceId(config.home);
  // No run is in flight now, so any test container or network of this
  // installation is a leftover of a stop in the middle of a test stage.
  await removeTestLeftovers(docker, instance)
    .then((n) => {
      if (n > 0) logger.info(`removed ${n} test container(s) and network(s) a stopped run left`);
    })
    .catch((error: Error) =>
      logger.warn(`could not look for test leftovers (${error.message}); they stay`),
    );
  const deployments = new DeploymentStore(store.db);
  const releaseFiles = new ReleaseFileStore(config.paths.releases, sealer);
  const engine = new DockerEngine({
    docker,
    instance,
    registryAddress: imageRegistryHost(config),
    registryUrl,
    ...(config.externalRegistry?.username && config.externalRegistry.password
      ? {
          registryAuth: {
            username: config.externalRegistry.username,
            password: config.externalRegistry.password,
          },
        }
      : {}),
  });
  const deployer = new Deployer({
    engine,
    edge: edge.router,
    releases: new ReleaseReader(runs, releaseFiles),
    releaseFiles,
    deployments,
    recordEvent: (app, message) => store.recordEvent(`app:${app}`, "reconcile", message),
  });
  const reconciler = new Reconciler({
    engine,
    deployer,
    log: (line) => logger.info(`reconcile: ${line}`),
  });
  // Adopt what runs: converge every app to its desired state before serving,
  // then keep it there. A failure is logged; the periodic passes try again.
  await reconciler.pass();
  reconciler.start();
  const uploads = new UploadSourceStore(config.paths.uploads);
  const tokens = new TokenStore(store.db);
  const pushers = new Map<string, string>();
  const pipeline = new Pipeline({
    runs,
    runners: createStageRunners({
      docker,
      registry,
      config,
      runs,
      testResults: new TestResultStore(store.db),
      deployer,
    }),
    runsRoot: config.paths.runs,
    workRoot: config.paths.work,
    releaseFiles,
    config: appConfig,
    uploads,
    recordEvent: (app, message) => store.recordEvent(`app:${app}`, "run", message),
    liveRelease: (app) => deployments.desired(app).release,
    concurrency: config.pipelineConcurrency,
  });
  const hookToken = createHookToken();
  // Where the app answers: its default domain when the edge routes it,
  // else the first of its x-skiff.domains.
  const appUrl = (app: string) => {
    const domains = Object.keys(edge.router.appState(app)?.domains ?? {});
    const host = domains.includes(`${app}.localhost`)
      ? `${app}.localhost`
      : (domains[0] ?? `${app}.localhost`);
    return `http://${host}:${config.edgePort}/`;
  };

  const registryVersion = config.externalRegistry ? undefined : memoizedRegistryVersion();
  const http = buildHttpServer({
    store,
    apps: new AppService({
      store,
      docker,
      registry,
      workloads: deployer,
      instance,
      config,
      runs,
    }),
    runs,
    pipeline,
    config: appConfig,
    uploads,
    tokens,
    secrets: (app) => appConfig.scrubber(app),
    deploy: { deployer, deployments },
    runsRoot: config.paths.runs,
    workRoot: config.paths.work,
    bases: {
      docker,
      registry,
      registryAddress: imageRegistryHost(config),
      workDir: config.paths.work,
    },
    git: {
      reposRoot: config.paths.repos,
      hookToken,
      // The hook calls back over loopback, whatever address the API listens on.
      hookEnv: (app) =>
        hookEnvironment({
          app,
          hookUrl: `http://127.0.0.1:${config.port}${PRE_RECEIVE_PATH}`,
          hookToken,
        }),
      onPush: (push, out) =>
        handlePush({ pipeline, store, appUrl, pusher: (app) => pushers.get(app) }, push, out),
      pushers,
      onRefused: (push, reason, out) =>
        recordRefusedPush(
          { pipeline, store, pusher: (app) => pushers.get(app) },
          push,
          reason,
          out,
        ),
    },
    status: () =>
      collectStatus({
        config,
        docker,
        registry,
        ...(registryVersion ? { registryVersion } : {}),
        edgeRuntime: edge.runtime,
        store,
        processes: () => supervisor.states(),
        reconciler: () => reconciler.lastPass(),
      }),
    logger: {
      level: process.env.SKIFF_LOG_LEVEL ?? "info",
      stream: logStream,
    },
  });
  try {
    await http.listen({ host: config.host, port: config.port });
  } catch (error) {
    await supervisor.stop();
    store.db.close();
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      code === "EADDRINUSE"
        ? `port ${config.port} on ${config.host} is already in use; is another skiff server running? (skiff server status), or choose another port with --port / SKIFF_PORT`
        : `could not listen on ${config.host}:${config.port}: ${(error as Error).message}`,
    );
  }
  writeFileSync(config.paths.serverPid, `${process.pid}\n`);
  const url = `http://${config.host}:${config.port}`;
  log(`skiff ${SKIFF_VERSION}: serving ${url} (state in ${config.home})`);

  return {
    url,
    async close() {
      // Runs in flight are cancelled (their pushes are rejected) so the HTTP
      // server can close; the stages remove their throwaway containers.
      reconciler.stop();
      pipeline.cancelAll();
      await pipeline.idle();
      await http.close();
      await supervisor.stop();
      store.db.close();
      rmSync(config.paths.serverPid, { force: true });
    },
  };
}

/** `docker-registry --version` once: Distribution has no version endpoint over HTTP. */
function memoizedRegistryVersion(): () => Promise<string | undefined> {
  let cached: Promise<string | undefined> | undefined;
  return () => {
    cached ??= promisify(execFile)(REGISTRY_BINARY, ["--version"]).then(
      ({ stdout }) => /(\d+\.\d+\.\d+\S*)/.exec(stdout)?.[1]?.replace(/^/, "Distribution "),
      () => undefined,
    );
    return cached;
  };
}
