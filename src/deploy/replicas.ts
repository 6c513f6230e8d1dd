import type Docker from "dockerode";
import { LABELS } from "../docker/engine.js";
import { PORT_LABEL } from "./container-spec.js";

/** One container of an app, as Docker lists it, read back from Skiff's labels. */
export interface Replica {
  id: string;
  name: string;
  app: string;
  service: string;
  release: number;
  replica: number;
  /** Docker's state: created, running, restarting, exited, paused, dead, removing. */
  state: string;
  /** From the container's healthcheck, when it has one. */
  health?: "starting" | "healthy" | "unhealthy";
  containerPort?: number;
  /** The port published on 127.0.0.1 for containerPort. */
  hostPort?: number;
  /** Seconds since the epoch. */
  createdAt: number;
  /** The Docker networks it is attached to, by name. */
  networks: string[];
}

/**
 * Every replica container of this installation (of one app, or of all),
 * oldest first. Containers of Skiff's throwaway test runs are not replicas
 * and are left out.
 */
export async function listReplicas(
  docker: Docker,
  instance: string,
  app?: string,
): Promise<Replica[]> {
  const containers = await docker.listContainers({
    all: true,
    filters: {
      label: [
        `${LABELS.instance}=${instance}`,
        app ? `${LABELS.app}=${app}` : LABELS.app,
        LABELS.replica,
      ],
    },
  });
  return containers
    .map((c) => toReplica(c))
    .filter((r): r is Replica => r !== undefined)
    .sort((a, b) => a.createdAt - b.createdAt || a.replica - b.replica);
}

function toReplica(c: Docker.ContainerInfo): Replica | undefined {
  const labels = c.Labels ?? {};
  const app = labels[LABELS.app];
  const service = labels[LABELS.service];
  const release = Number(labels[LABELS.release]);
  const replica = Number(labels[LABELS.replica]);
  if (!app || !service || !Number.isInteger(release) || !Number.isInteger(replica))
    return undefined;
  const containerPort = labels[PORT_LABEL] ? Number(labels[PORT_LABEL]) : undefined;
  const published = c.Ports?.find(
    (p) => p.PrivatePort === containerPort && p.PublicPort && p.IP === "127.0.0.1",
  );
  const health = /\((healthy|unhealthy|health: starting)\)/.exec(c.Status ?? "")?.[1];
  return {
    id: c.Id,
    name: (c.Names?.[0] ?? c.Id).replace(/^\//, ""),
    app,
    service,
    release,
    replica,
    state: c.State,
    ...(health
      ? { health: health === "health: starting" ? "starting" : (health as Replica["health"]) }
      : {}),
    ...(containerPort !== undefined ? { containerPort } : {}),
    ...(published?.PublicPort ? { hostPort: published.PublicPort } : {}),
    createdAt: c.Created,
    networks: Object.keys(c.NetworkSettings?.Networks ?? {}).sort(),
  };
}

/**
 * The replica's name on the edge: its container name after the app and
 * service, e.g. `r12-1-a1b2c3`, unique per container.
 */
export function edgeServerName(replica: Pick<Replica, "name" | "app" | "service">): string {
  const prefix = `skiff-${replica.app}-${replica.service}-`;
  return replica.name.startsWith(prefix) ? replica.name.slice(prefix.length) : replica.name;
}

/** A replica that serves: running and not reported unhealthy by its healthcheck. */
export function isServing(replica: Replica): boolean {
  return replica.state === "running" && replica.health !== "unhealthy";
}
