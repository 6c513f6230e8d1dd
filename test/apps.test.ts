import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instanceId } from "../src/docker/engine.js";
import { EdgeRuntimeApi } from "../src/edge/runtime-api.js";
import { ensureTestImage, removeTestObjects, testDocker } from "./support/busybox-image.js";
import { getThroughEdge } from "./support/deploy-app.js";
import { smallApp, writeFiles } from "./support/pipeline-app.js";
import {
  createSandbox,
  destroySandbox,
  readToken,
  type SkiffSandbox,
  skiff,
  startForegroundServer,
} from "./support/skiff-harness.js";

/** Gives `app` what a deployed app has: a labelled container, its network, a route and registry tags. */
/**
 * Deploys a one-service busybox app for real (`skiff deploy` of a tree):
 * a replica behind the edge at APP.localhost, its image in the registry.
 */
async function deployTinyApp(sandbox: SkiffSandbox, docker: Docker, app: string) {
  await ensureTestImage(docker);
  const dir = mkdtempSync(join(tmpdir(), `skiff-apps-${app}-`));
  try {
    writeFiles(dir, smallApp(app, { test: "" }));
    const deployed = await skiff(sandbox, ["deploy", dir, "--app", app]);
    expect(deployed.code, deployed.stderr + deployed.stdout).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const [container] = await docker.listContainers({
    filters: { label: [`skiff.app=${app}`, `skiff.instance=${instanceId(sandbox.home)}`] },
  });
  const [network] = await docker.listNetworks({
    filters: { name: [`skiff-${app}-${instanceId(sandbox.home)}`] },
  });
  return { containerId: container?.Id as string, networkId: network?.Id as string };
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

  it("destroys an app's containers, network, routes, registry tags, local images and state, and nothing of another app", async () => {
    const shop = await deployTinyApp(sandbox, docker, "shop");
    const blog = await deployTinyApp(sandbox, docker, "blog");
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
      containers: [expect.stringMatching(/^skiff-shop-web-r1-1-[0-9a-f]{6}$/)],
      network: `skiff-shop-${instanceId(sandbox.home)}`,
      domains: ["shop.localhost"],
      registryTags: ["shop/web:r1"],
      localImages: [`127.0.0.1:${sandbox.registryPort}/shop/web:r1`],
    });
    const localTags = async () =>
      (await docker.listImages())
        .flatMap((i) => i.RepoTags ?? [])
        .filter((t) => t.startsWith(`127.0.0.1:${sandbox.registryPort}/`));
    expect(await localTags()).toEqual([`127.0.0.1:${sandbox.registryPort}/blog/web:r1`]);

    expect(await exists(() => docker.getContainer(shop.containerId).inspect())).toBe(false);
    expect(await exists(() => docker.getNetwork(shop.networkId).inspect())).toBe(false);
    expect(await routedHosts()).toEqual(["blog.localhost"]);
    expect(readFileSync(mapFile, "utf8")).toContain("blog.localhost app_blog__web\n");
    expect(readFileSync(mapFile, "utf8")).not.toContain("shop.localhost");
    const blogServes = await getThroughEdge(sandbox.edgePort, "blog.localhost");
    expect(blogServes).toMatchObject({
      status: 200,
      body: expect.stringContaining("<h1>blog</h1>"),
    });
    const unrouted = await getThroughEdge(sandbox.edgePort, "shop.localhost");
    expect(unrouted).toMatchObject({ status: 404, body: expect.stringContaining("Skiff") });
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
