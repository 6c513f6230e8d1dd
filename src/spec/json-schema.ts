import { z } from "zod";
import { xSkiffAppSchema, xSkiffServiceSchema } from "./schema.js";

// A Compose file schema that constrains only the x-skiff keys and lets every
// other key through, so it can be layered over the official Compose schema
// (or used alone) by editors such as VS Code's YAML extension.
const editorSchema = z
  .looseObject({
    "x-skiff": xSkiffAppSchema.optional(),
    services: z
      .record(z.string(), z.looseObject({ "x-skiff": xSkiffServiceSchema.optional() }))
      .optional(),
  })
  .meta({
    title: "Skiff app spec: x-skiff keys",
    description:
      "The x-skiff extension keys of a Skiff app spec (compose.yaml), at the top level and under each service.",
  });

/** JSON Schema (draft 2020-12) of the top-level and service-level x-skiff keys, generated from the zod schema. */
export function xSkiffJsonSchema(): Record<string, unknown> {
  // io: "input" describes what a user writes (`timeout: 30s`), with defaults, not the parsed output.
  return z.toJSONSchema(editorSchema, { target: "draft-2020-12", io: "input" }) as Record<
    string,
    unknown
  >;
}
