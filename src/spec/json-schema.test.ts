import { describe, expect, it } from "vitest";
import { xSkiffJsonSchema } from "./json-schema.js";

type Schema = {
  $schema?: string;
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  description?: string;
  items?: Schema;
  required?: string[];
};

describe("xSkiffJsonSchema", () => {
  const schema = xSkiffJsonSchema() as Schema;
  const service = schema.properties?.services?.additionalProperties as Schema;
  const xService = service?.properties?.["x-skiff"] as Schema;
  const xApp = schema.properties?.["x-skiff"] as Schema;

  it("is draft 2020-12 and lets the other Compose keys through", () => {
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(schema.additionalProperties).toEqual({});
    expect(service.additionalProperties).toEqual({});
  });

  it("has every service-level x-skiff key, and refuses unknown ones", () => {
    expect(Object.keys(xService.properties ?? {})).toEqual([
      "port",
      "domains",
      "health",
      "autoscale",
      "budget",
    ]);
    expect(xService.additionalProperties).toBe(false);
    expect(xService.properties?.port).toMatchObject({
      type: "integer",
      minimum: 1,
      maximum: 65535,
    });
    expect(xService.properties?.port?.description).toMatch(/Container port the edge routes/);
    const health = xService.properties?.health;
    expect(Object.keys(health?.properties ?? {})).toEqual([
      "path",
      "timeout",
      "interval",
      "retries",
      "host",
      "stable_for",
    ]);
    expect(health?.properties?.path?.default).toBe("/");
    expect(health?.properties?.timeout?.default).toBe("30s");
    expect(health?.properties?.stable_for?.default).toBe("5s");
    expect(health?.properties?.stable_for?.description).toMatch(/without exiting or restarting/);
    expect(Object.keys(xService.properties?.autoscale?.properties ?? {})).toEqual([
      "min",
      "max",
      "cpu",
    ]);
    expect(xService.properties?.autoscale?.required).toEqual(["max"]);
    expect(Object.keys(xService.properties?.budget?.properties ?? {})).toEqual(["image"]);
  });

  it("has the top-level x-skiff.test list of {service, run, cache}", () => {
    const test = xApp.properties?.test;
    expect(test?.type).toBe("array");
    expect(Object.keys(test?.items?.properties ?? {})).toEqual(["service", "run", "cache"]);
    expect(test?.items?.required).toEqual(["service", "run"]);
  });

  it("is plain JSON", () => {
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });
});
