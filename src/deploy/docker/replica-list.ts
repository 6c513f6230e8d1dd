import type Docker from "dockerode";
import { appNetworkName, LABELS } from "../../docker/engine.js";
import type { Replica } from "../engine.js";
import { PORT_LABEL } from "./container-spec.js";

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
    .map((c) => toReplica(c, instance))
    .filter((r): r is Replica => r !== undefined)
    .sort((a, b) => a.createdAt - b.createdAt || a.replica - b.replica);
}

/** A replica read back from its container's labels, ports and networks; undefined for a container that is not one. */
export function toReplica(c: Docker.ContainerInfo, instance: string): Replica | undefined {
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
  const fingerprint = labels[LABELS.fingerprint];
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
    ...(published?.PublicPort
      ? { address: { host: "127.0.0.1", port: published.PublicPort } }
      : {}),
    ...(fingerprint ? { fingerprint } : {}),
    // A replica made by an older Skiff, which named networks without the
    // instance, cannot reach the app's other services by name.
    onAppNetwork: Object.keys(c.NetworkSettings?.Networks ?? {}).includes(
      appNetworkName(app, instance),
    ),
    createdAt: c.Created,
  };
}
