import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../config.js";
import { DependencyError } from "../errors.js";
import { managedEdgeSpec } from "./managed-edge.js";

describe("managedEdgeSpec", () => {
  let home: string | undefined;
  afterEach(() => {
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("starts HAProxy from a config rendered from the desired state, which outlives the control plane", async () => {
    home = mkdtempSync(join(tmpdir(), "skiff-edge-spec-"));
    const config = loadConfig({ SKIFF_HOME: home, SKIFF_EDGE_PORT: "18080" });
    const edge = managedEdgeSpec(config);
    expect(edge.args).toEqual([
      "-W",
      "-S",
      join(home, "run", "haproxy-master.sock"),
      "-f",
      join(home, "edge", "haproxy.cfg"),
    ]);

    // No HAProxy runs: the apply fails, but the state and the files hold the app.
    const state = {
      backends: [
        {
          name: "app_shop__web",
          healthPath: "/",
          servers: [{ name: "r1-1", address: { host: "127.0.0.1", port: 32801 } }],
        },
      ],
      domains: { "shop.localhost": "app_shop__web" },
    };
    await expect(edge.router.setApp("shop", state)).rejects.toThrow(DependencyError);

    // A control-plane restart: a new spec, a new router, the same files.
    const restarted = managedEdgeSpec(config);
    restarted.writeConfig();
    const file = readFileSync(join(home, "edge", "haproxy.cfg"), "utf8");
    expect(file).toBe(restarted.router.render());
    expect(file).toContain("server r1-1 127.0.0.1:32801 check");
    expect(readFileSync(join(home, "edge", "domains.map"), "utf8")).toBe(
      "shop.localhost app_shop__web\n",
    );
    expect(restarted.router.apps()).toEqual(["shop"]);
  });
});
