import { createHash } from "node:crypto";
import type Docker from "dockerode";
import { canonicalJson } from "../../canonical-json.js";

/**
 * Test results are cached by what decides them. A test entry runs one
 * command in a container of its service's image, next to containers of the
 * services it depends on. When a later run would create exactly those
 * containers from exactly those images, it would run the same test again:
 * a push that changes one service then skips the tests of the others.
 */

/** The label of a test key's copy of a container's options that holds its release files' digest. */
export const FILES_LABEL = "skiff.files";

/** A container a test creates, and the id of the image it runs. */
export interface TestContainer {
  options: Docker.ContainerCreateOptions;
  /** `docker image inspect` Id: the digest of the image's config, so of its layers. */
  imageId: string;
}

/**
 * The digest of a test's containers as they would be created, minus what
 * differs from run to run by design: the image's run tag (the image id
 * stands for it), labels and the throwaway network's id. The digest of the
 * service's release files counts (a changed secret or config file runs the
 * test again): it travels in the key's copy of the options as the label
 * FILES_LABEL, which no container that runs carries. Any other setting
 * (command, environment, user, working directory, health check, network
 * aliases) changes the key, so a new setting added to the container options
 * later is part of it without anyone remembering to add it here.
 */
export function testKey(test: TestContainer, dependencies: readonly TestContainer[]): string {
  const material = {
    // 2: the release files' digest counts (it did not in 1, so every test runs once more).
    version: 2,
    test: comparable(test),
    dependencies: dependencies.map(comparable),
  };
  return createHash("sha256").update(canonicalJson(material)).digest("hex");
}

function comparable({ options, imageId }: TestContainer): unknown {
  const { Image: _tag, Labels: labels, HostConfig, NetworkingConfig, ...rest } = options;
  const { NetworkMode: _network, ...host } = HostConfig ?? {};
  const aliases = Object.values(NetworkingConfig?.EndpointsConfig ?? {}).map(
    (endpoint) => endpoint.Aliases ?? [],
  );
  const files = labels?.[FILES_LABEL];
  return { ...rest, image: imageId, hostConfig: host, aliases, ...(files ? { files } : {}) };
}
