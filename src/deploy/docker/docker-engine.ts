import type Docker from "dockerode";
import { isGone, unless } from "../../docker/errors.js";
import { ensureImage } from "../../docker/image-pull.js";
import type { RegistryCredentials } from "../../registry/client.js";
import type {
  Engine,
  EngineImage,
  Log,
  Replica,
  ReplicaDetails,
  ReplicaRequest,
  StartOptions,
} from "../engine.js";
import { containerLogTail } from "./container-logs.js";
import { watchReplicaEvents } from "./events.js";
import { ensureAppResources, retireReplica, startReplica } from "./replica-lifecycle.js";
import { listReplicas } from "./replica-list.js";

export interface DockerEngineOptions {
  docker: Docker;
  /** LABELS.instance of this installation: only its containers are listed or touched. */
  instance: string;
  /** Host of the registry in image references, e.g. 127.0.0.1:5000. */
  registryAddress: string;
  registryUrl: string;
  registryAuth?: RegistryCredentials;
}

/**
 * The Engine on one host: every replica a container of the local Docker
 * Engine, on the app's bridge network, its port published on 127.0.0.1.
 * Images come from Skiff's registry by digest (pulled once per host).
 */
export class DockerEngine implements Engine {
  constructor(private readonly options: DockerEngineOptions) {}

  async prepare(input: {
    app: string;
    volumes: readonly string[];
    images: readonly EngineImage[];
    log: Log;
    signal?: AbortSignal;
  }): Promise<Record<string, string>> {
    const { docker, instance, registryAddress, registryUrl, registryAuth } = this.options;
    await ensureAppResources(docker, instance, input.app, input.volumes);
    const references: Record<string, string> = {};
    await Promise.all(
      input.images.map(async (image) => {
        if (!image.image.startsWith(`${registryAddress}/`)) {
          // An `image:` service that was not copied into the registry: recorded by its local image id.
          references[image.service] = image.digest;
          return;
        }
        const repository = image.image.slice(0, image.image.lastIndexOf(":"));
        await ensureImage(docker, {
          repository,
          digest: image.digest,
          registryUrl,
          ...(registryAuth ? { auth: registryAuth } : {}),
          ...(input.signal ? { signal: input.signal } : {}),
          onProgress: (text) => input.log(text, image.service),
        });
        references[image.service] = `${repository}@${image.digest}`;
      }),
    );
    return references;
  }

  list(app?: string): Promise<Replica[]> {
    return listReplicas(this.options.docker, this.options.instance, app);
  }

  async start(
    app: string,
    requests: readonly ReplicaRequest[],
    options: StartOptions,
  ): Promise<Replica[]> {
    const results = await Promise.allSettled(
      requests.map((request) =>
        startReplica(this.options.docker, {
          ...request,
          instance: this.options.instance,
          app,
          log: (text) => options.log(text, request.service.name),
          ...(options.signal ? { signal: options.signal } : {}),
        }),
      ),
    );
    const started = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const failed = results.find((r) => r.status === "rejected");
    if (failed) {
      const removals = await Promise.allSettled(started.map((replica) => this.remove(replica)));
      for (const [i, removal] of removals.entries()) {
        if (removal.status === "rejected") {
          const name = started[i]?.name ?? "?";
          options.log(
            `could not remove ${name} after the failed start: ${(removal.reason as Error).message}; the reconciler removes it`,
            started[i]?.service ?? "",
          );
        }
      }
      throw failed.reason;
    }
    return started;
  }

  async stop(replica: Replica): Promise<void> {
    await this.options.docker
      .getContainer(replica.id)
      .stop()
      .catch(unless("notModified", "noSuchObject"));
  }

  async resume(replica: Replica): Promise<Replica> {
    await this.options.docker.getContainer(replica.id).start().catch(unless("notModified"));
    // Docker picks a new host port for a published port at every start.
    const again = (await this.list(replica.app)).find((r) => r.id === replica.id);
    return again ?? replica;
  }

  remove(replica: Replica): Promise<void> {
    return retireReplica(this.options.docker, replica);
  }

  logTail(replica: Replica, lines: number): Promise<string[]> {
    return containerLogTail(this.options.docker, replica.id, lines);
  }

  watch(onChange: (app: string) => void, onTrouble?: (message: string) => void): { stop(): void } {
    return watchReplicaEvents(this.options.docker, onChange, onTrouble);
  }

  async tearDown(app: string): Promise<string[]> {
    const replicas = await this.list(app);
    await Promise.all(
      replicas.map((r) =>
        this.options.docker
          .getContainer(r.id)
          // v: the anonymous (ephemeral) volumes go with it; named volumes stay.
          .remove({ force: true, v: true })
          .catch(unless("noSuchObject", "inProgress")),
      ),
    );
    return replicas.map((r) => r.name);
  }

  /** Restarts and start times, which only an inspect tells (for `skiff ps`). */
  async details(replica: Replica): Promise<ReplicaDetails> {
    const info = await this.options.docker
      .getContainer(replica.id)
      .inspect()
      .catch((error: unknown) => {
        // Removed between the list and now: it shows as listed, without details.
        if (isGone(error)) return undefined;
        throw error;
      });
    if (!info) return { restarts: 0 };
    const startedAt = info.State.StartedAt;
    return {
      restarts: info.RestartCount ?? 0,
      ...(startedAt && !startedAt.startsWith("0001") ? { startedAt } : {}),
    };
  }
}
