import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import type { RegistryClient } from "../../registry/client.js";
import type { PlanService } from "../../spec/index.js";
import type { RunContext } from "../pipeline.js";
import { StageFailure } from "../stage-failure.js";
import { prepareImageService } from "./image-services.js";

/** A Docker that fails any call: the refusal must come before Skiff asks the daemon anything. */
const untouchable = new Proxy(
  {},
  {
    get: () => {
      throw new Error("the Docker host was asked");
    },
  },
) as unknown as Docker;

function attempt(image: string) {
  const ctx = { app: "shop", log: () => {} } as unknown as RunContext;
  const service = { name: "db", source: { type: "image", image } } as unknown as PlanService;
  return prepareImageService(
    { docker: untouchable, registry: {} as RegistryClient, registryAddress: "127.0.0.1:5000" },
    ctx,
    service,
    undefined,
    ["r1"],
  );
}

describe("prepareImageService", () => {
  it.each(["127.0.0.1:5000/other/web:r3", `127.0.0.1:5000/other/web@sha256:${"a".repeat(64)}`])(
    "refuses another app's image in Skiff's registry: %s",
    async (image) => {
      await expect(attempt(image)).rejects.toBeInstanceOf(StageFailure);
      await expect(attempt(image)).rejects.toThrow(/belongs to another app in Skiff's registry/);
    },
  );

  it.each(["127.0.0.1:5000/bases/redis:bookworm", "127.0.0.1:5000/shop/db:r1"])(
    "lets an app run a base image or its own: %s",
    async (image) => {
      // Past the refusal, it asks the Docker host for the image.
      await expect(attempt(image)).rejects.toThrow("the Docker host was asked");
    },
  );
});
