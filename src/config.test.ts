import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

describe("loadConfig", () => {
  it("uses the documented defaults", () => {
    const config = loadConfig({ HOME: "/home/op" });
    expect(config.port).toBe(7070);
    expect(config.edgePort).toBe(8080);
    expect(config.edgeStatsPort).toBe(8404);
    expect(config.registryAddress).toBe("127.0.0.1:5000");
    expect(config.externalRegistry).toBeUndefined();
    expect(config.paths.edgeSocket).toBe(`${config.home}/run/haproxy.sock`);
    expect(config.paths.adminToken).toBe(`${config.home}/admin-token`);
  });

  it("honours SKIFF_HOME and the port variables", () => {
    const config = loadConfig({
      SKIFF_HOME: "/srv/skiff",
      SKIFF_PORT: "9000",
      SKIFF_EDGE_PORT: "80",
      SKIFF_REGISTRY_PORT: "5001",
    });
    expect(config.home).toBe("/srv/skiff");
    expect(config.paths.database).toBe("/srv/skiff/skiff.db");
    expect(config.port).toBe(9000);
    expect(config.edgePort).toBe(80);
    expect(config.registryAddress).toBe("127.0.0.1:5001");
  });

  it.each(["0", "65536", "http", "80.5"])(
    "refuses SKIFF_PORT=%j with what would be valid",
    (value) => {
      expect(() => loadConfig({ SKIFF_PORT: value })).toThrow(
        `SKIFF_PORT="${value}" is not a port`,
      );
    },
  );

  it("reads an external registry and keeps its password out of any output", () => {
    const config = loadConfig({
      SKIFF_REGISTRY_URL: "https://registry.example.com/",
      SKIFF_REGISTRY_USERNAME: "ci",
      SKIFF_REGISTRY_PASSWORD: "hunter2",
    });
    expect(config.externalRegistry?.url).toBe("https://registry.example.com");
    expect(config.externalRegistry?.password?.reveal()).toBe("hunter2");
    expect(JSON.stringify(config)).not.toContain("hunter2");
  });

  it("refuses a registry URL without a scheme", () => {
    expect(() => loadConfig({ SKIFF_REGISTRY_URL: "registry.example.com" })).toThrow(
      "is not a registry URL",
    );
  });
});
