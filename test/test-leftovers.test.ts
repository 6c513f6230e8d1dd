import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LABELS } from "../src/docker/engine.js";
import { removeTestLeftovers } from "../src/pipeline/stages/test.js";
import { ensureTestImage, TEST_IMAGE, TEST_LABEL, testDocker } from "./support/busybox-image.js";

// Two made-up installations on the real Docker host: the cleanup of one must
// remove its own test leftovers and nothing of the other's.
const mine = `leftovers-${randomBytes(4).toString("hex")}`;
const theirs = `${mine}-other`;
const docker = testDocker();

function labels(instance: string, testRun?: string) {
  return {
    [TEST_LABEL]: "test-leftovers",
    [LABELS.app]: "shop",
    [LABELS.instance]: instance,
    ...(testRun ? { [LABELS.testRun]: testRun } : {}),
  };
}

async function objects(instance: string) {
  const label = [`${LABELS.instance}=${instance}`];
  const containers = await docker.listContainers({ all: true, filters: { label } });
  const networks = await docker.listNetworks({ filters: { label } });
  return {
    containers: containers.map((c) => c.Names[0]?.slice(1)).sort(),
    networks: networks.map((n) => n.Name).sort(),
  };
}

describe("test leftovers at server start", () => {
  beforeAll(async () => {
    await ensureTestImage(docker);
    for (const [instance, testRun, name] of [
      [mine, "7", `${mine}-test`],
      [mine, undefined, `${mine}-replica`],
      [theirs, "7", `${theirs}-test`],
    ] as const) {
      await docker.createContainer({
        Image: TEST_IMAGE,
        name,
        Cmd: ["sleep", "300"],
        Labels: labels(instance, testRun),
      });
    }
    await docker.createNetwork({ Name: `${mine}-net`, Labels: labels(mine, "7") });
    await docker.createNetwork({ Name: `${theirs}-net`, Labels: labels(theirs, "7") });
  });

  afterAll(async () => {
    const label = [`${TEST_LABEL}=test-leftovers`];
    for (const c of await docker.listContainers({ all: true, filters: { label } }))
      await docker.getContainer(c.Id).remove({ force: true });
    for (const n of await docker.listNetworks({ filters: { label } }))
      await docker.getNetwork(n.Id).remove();
  });

  it("removes this installation's test containers and networks, and nothing else", async () => {
    expect(await removeTestLeftovers(docker, mine)).toBe(2);
    expect(await objects(mine)).toEqual({ containers: [`${mine}-replica`], networks: [] });
    expect(await objects(theirs)).toEqual({
      containers: [`${theirs}-test`],
      networks: [`${theirs}-net`],
    });
  });
});
