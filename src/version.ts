import { readFileSync } from "node:fs";

/** Skiff's version, read from the package manifest so there is one place to bump it. */
export const SKIFF_VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;
