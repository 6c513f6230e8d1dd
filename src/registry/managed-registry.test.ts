import { describe, expect, it } from "vitest";
import { renderRegistryConfig } from "./managed-registry.js";

describe("renderRegistryConfig", () => {
  it("stores under SKIFF_HOME, enables deletes and listens where it is told", () => {
    expect(
      renderRegistryConfig({
        address: "127.0.0.1:5000",
        storageDir: "/srv/skiff/registry/storage",
      }),
    ).toBe(
      [
        "# Written by skiff on every start; edit Skiff's settings, not this file.",
        "version: 0.1",
        "log:",
        "  level: warn",
        "  formatter: text",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  filesystem:",
        '    rootdirectory: "/srv/skiff/registry/storage"',
        "  delete:",
        "    enabled: true",
        "  cache:",
        "    blobdescriptor: inmemory",
        "http:",
        '  addr: "127.0.0.1:5000"',
        "  headers:",
        "    X-Content-Type-Options: [nosniff]",
        "",
      ].join("\n"),
    );
  });
});
