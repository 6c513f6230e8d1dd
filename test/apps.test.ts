import type { ChildProcess } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EdgeRuntimeApi } from "../src/edge/runtime-api.js";
import {
  ensureTestImage,
  removeTestObjects,
  TEST_LABEL,
  testDocker,
} from "./support/busybox-image.js";
import { pushTinyImage } from "./support/registry-image.js";
import {
  createSandbox,
  destroySandbox,
  readToken,
  type SkiffSandbox,
  skiff,
  startForegroundServer,
} from "./support/skiff-harness.js";

/** Gives `app` what a deployed app has: a labelled container, its network, a route and registry tags. */
async function simulateDeployedApp(sandbox: SkiffSandbox, docker: Docker, app: string) {
  const network = await docker.createNetwork({
    Name: `skiff-${app}`,
    Labels: { [TEST_LABEL]: "1", "skiff.app": app },
  });
  const container = await docker.createContainer({
    Image: await ensureTestImage(docker),
    name: `skiff-test-${app}-web-1`,
    Cmd: ["sleep", "300"],
    Labels: { [TEST_LABEL]: "1", "skiff.app": app, "skiff.service": "web" },
    HostConfig: { NetworkMode: `skiff-${app}` },
  });
  await container.start();
  const mapFile = join(sandbox.home, "edge", "domains.map");
  appendFileSync(mapFile, `${app}.localhost app_${app}__web\n`);
  await new EdgeRuntimeApi(join(sandbox.home, "run", "haproxy.sock")).command(
    `add map ${mapFile} ${app}.localhost app_${app}__web`,
  );
  await pushTinyImage(sandbox.registryUrl, `${app}/web`, "r1");
  await pushTinyImage(sandbox.registryUrl, `${app}/worker`, "r1", { content: "worker" });
  return { networkId: network.id, containerId: container.id };
}

async function exists(fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch {
    return false;
  }
}

describe("apps through the CLI", () => {
  let sandbox: SkiffSandbox;
  let server: ChildProcess;
  const docker = testDocker();

  beforeAll(async () => {
    sandbox = await createSandbox();
    server = await startForegroundServer(sandbox);
  });
  afterAll(async () => {
    await removeTestObjects(docker);
    await destroySandbox(sandbox, server);
  });

  it("creates an app and prints the git remote to add", async () => {
    const result = await skiff(sandbox, ["apps:create", "shop"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `git remote add skiff http://127.0.0.1:${sandbox.apiPort}/git/shop.git`,
    );
    expect(result.stdout).toContain(`http://shop.localhost:${sandbox.edgePort}/`);
  });

  it("refuses a duplicate with exit 1 and HTTP 409", async () => {
    const result = await skiff(sandbox, ["apps:create", "shop"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('an app named "shop" already exists');
    const response = await fetch(`${sandbox.apiUrl}/api/v1/apps`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${readToken(sandbox)}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ name: "shop" }),
    });
    expect(response.status).toBe(409);
  });

  it.each([
    ["Shop", '"S"'],
    ["-shop", 'must not start or end with "-"'],
    ["shop-", 'must not start or end with "-"'],
    ["shop_api", '"_"'],
    ["a".repeat(64), "at most 63"],
    ["bases", "reserved"],
  ])("refuses the bad name %j with exit 1 and HTTP 400", async (name, reason) => {
    // "--" so that a name starting with "-" reaches the server instead of the option parser.
    const result = await skiff(sandbox, ["apps:create", "--", name]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(reason);
    expect(result.stderr).toContain("DNS label rules");
    const response = await fetch(`${sandbox.apiUrl}/api/v1/apps`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${readToken(sandbox)}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ name }),
    });
    expect(response.status).toBe(400);
    expect((await response.json()).error.code).toBe("invalid");
  });

  it("lists apps and shows one, as a table and as JSON", async () => {
    await skiff(sandbox, ["apps:create", "blog"]);
    const list = await skiff(sandbox, ["apps", "--json"]);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as { name: string }[]).map((a) => a.name)).toEqual([
      "blog",
      "shop",
    ]);
    const table = await skiff(sandbox, ["apps"]);
    expect(table.stdout.split("\n")[0]).toMatch(/^NAME\s+CONTAINERS\s+CREATED\s+URL$/);
    expect(table.stdout).toMatch(/^shop\s+0\s+\d+s ago\s+http:\/\/shop\.localhost/m);

    const info = await skiff(sandbox, ["apps:info", "shop", "--json"]);
    expect(JSON.parse(info.stdout)).toMatchObject({
      name: "shop",
      deployBranch: "main",
      gitRemote: `http://127.0.0.1:${sandbox.apiPort}/git/shop.git`,
    });
    const missing = await skiff(sandbox, ["apps:info", "nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no app named "nope"');
  });

  it("needs the app's name to destroy it: a usage error without --confirm, a refusal with the wrong one", async () => {
    const usage = await skiff(sandbox, ["apps:destroy", "shop"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--confirm");
    const wrong = await skiff(sandbox, ["apps:destroy", "shop", "--confirm", "blog"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("skiff apps:destroy shop --confirm shop");
    expect((await skiff(sandbox, ["apps:info", "shop"])).code).toBe(0);
  });

  it("destroys an app's containers, network, routes, registry tags and state, and nothing of another app", async () => {
    const shop = await simulateDeployedApp(sandbox, docker, "shop");
    const blog = await simulateDeployedApp(sandbox, docker, "blog");
    const edge = `http://127.0.0.1:${sandbox.edgePort}/`;
    const runtime = new EdgeRuntimeApi(join(sandbox.home, "run", "haproxy.sock"));
    const mapFile = join(sandbox.home, "edge", "domains.map");
    const routedHosts = async () =>
      (await runtime.command(`show map ${mapFile}`))
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((line) => line.split(" ")[1])
        .sort();
    expect(await routedHosts()).toEqual(["blog.localhost", "shop.localhost"]);

    const result = await skiff(sandbox, ["apps:destroy", "shop", "--confirm", "shop", "--json"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toEqual({
      app: "shop",
      containers: ["skiff-test-shop-web-1"],
      network: "skiff-shop",
      domains: ["shop.localhost"],
      registryTags: expect.arrayContaining(["shop/web:r1", "shop/worker:r1"]),
    });
    expect(report.registryTags).toHaveLength(2);

    expect(await exists(() => docker.getContainer(shop.containerId).inspect())).toBe(false);
    expect(await exists(() => docker.getNetwork(shop.networkId).inspect())).toBe(false);
    expect(await routedHosts()).toEqual(["blog.localhost"]);
    expect(readFileSync(mapFile, "utf8")).toBe("blog.localhost app_blog__web\n");
    const unrouted = await fetch(edge, { headers: { host: "shop.localhost" } });
    expect(unrouted.status).toBe(404);
    expect(await unrouted.text()).toContain("Skiff");
    const tags = await fetch(`${sandbox.registryUrl}/v2/shop/web/tags/list`);
    expect(((await tags.json()) as { tags: string[] | null }).tags ?? []).toEqual([]);
    expect((await skiff(sandbox, ["apps:info", "shop"])).code).toBe(1);

    expect(await exists(() => docker.getContainer(blog.containerId).inspect())).toBe(true);
    expect(await exists(() => docker.getNetwork(blog.networkId).inspect())).toBe(true);
    const blogTags = await fetch(`${sandbox.registryUrl}/v2/blog/web/tags/list`);
    expect(((await blogTags.json()) as { tags: string[] }).tags).toEqual(["r1"]);
    const list = JSON.parse((await skiff(sandbox, ["apps", "--json"])).stdout) as {
      name: string;
      containers: number;
    }[];
    expect(list).toMatchObject([{ name: "blog", containers: 1 }]);
  });
});
