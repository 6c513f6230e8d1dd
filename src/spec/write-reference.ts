// Writes docs/SPEC.md from the schema. Run after a build:
//   npm run build && node dist/spec/write-reference.js
// The path is found from this file's location (src/spec or dist/spec), so it
// works from any working directory.

import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderSpecReference } from "./reference.js";

const target = fileURLToPath(new URL("../../docs/SPEC.md", import.meta.url));
writeFileSync(target, renderSpecReference());
process.stdout.write(`wrote ${target}\n`);
