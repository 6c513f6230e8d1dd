import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { renderSpecReference } from "./reference.js";

const DOCS = fileURLToPath(new URL("../../docs/SPEC.md", import.meta.url));

describe("renderSpecReference", () => {
  const text = renderSpecReference();

  it("documents every x-skiff key with its type, default and description", () => {
    expect(text).toContain(
      "| `port` | integer 1–65535 |  | Container port the edge routes HTTP traffic to; without it, the first HTTP port of ports:. A service with a port is a web service. |",
    );
    expect(text).toContain("| `path` | string | `/` |");
    expect(text).toContain("| `timeout` | duration | `30s` |");
    expect(text).toContain("| `retries` | integer ≥ 1 | `3` |");
    expect(text).toContain(
      "| `stable_for` | duration | `5s` | For a service without a health check",
    );
    expect(text).toContain("| `cpu` | integer 1–100 | `70` |");
    expect(text).toContain("| `image` | size |  |");
    expect(text).toContain("| `test` | list of mappings |  |");
    for (const key of [
      "domains",
      "health",
      "autoscale",
      "budget",
      "interval",
      "retries",
      "host",
      "min",
      "max",
      "service",
      "run",
    ]) {
      expect(text).toContain(`| \`${key}\` |`);
    }
  });

  it("lists honoured Compose keys and the ignored ones with advice", () => {
    for (const key of [
      "build",
      "image",
      "command",
      "entrypoint",
      "environment",
      "env_file",
      "expose",
      "healthcheck",
      "depends_on",
      "volumes",
      "deploy",
      "stop_grace_period",
      "user",
      "working_dir",
      "labels",
      "replicas",
      "update_config",
      "limits",
    ]) {
      expect(text).toContain(`| \`${key}\` |`);
    }
    for (const key of [
      "ports",
      "restart",
      "secrets",
      "configs",
      "networks",
      "extends",
      "profiles",
      "ulimits",
      "tmpfs",
    ]) {
      expect(text).toContain(`| \`${key}\` |`);
    }
    expect(text).toContain(
      "- `container_name`: Skiff names each replica's container itself, because replicas (and two releases side by side) need their own names.",
    );
    expect(text).toMatch(
      /Never granted, with a warning:\n\n- `privileged`: a privileged container is root on the host/,
    );
    expect(text).toContain(
      "- `cap_add`: replicas never get capabilities beyond Docker's default set",
    );
  });

  it("documents the defaults every replica gets and which ports are not routed", () => {
    expect(text).toContain(
      "- Every replica gets a memory limit of 1024 MiB and a limit of 1024 processes and threads unless the spec sets its own",
    );
    expect(text).toMatch(
      /well-known ports of protocols other than HTTP: .*3306, .*5432, .*6379, .*11211, .*27017/,
    );
  });

  it("docs/SPEC.md is up to date", () => {
    if (process.env.SKIFF_WRITE_SPEC_REFERENCE === "1") writeFileSync(DOCS, text);
    let current = "";
    try {
      current = readFileSync(DOCS, "utf8");
    } catch {
      // missing: reported below
    }
    expect(
      current === text,
      "docs/SPEC.md differs from the schema. Regenerate it: `npm run build && node dist/spec/write-reference.js` (or `SKIFF_WRITE_SPEC_REFERENCE=1 npx vitest run --project unit src/spec/reference.test.ts`)",
    ).toBe(true);
  });
});
