// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests hold Compose interpolation syntax, written literally
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findSpecFile, loadSpec } from "./load.js";
import { formatProblem } from "./problem.js";

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "skiff-spec-"));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

const SPEC = "services:\n  web:\n    image: app\n";

describe("findSpecFile", () => {
  it("finds nothing in an empty directory", () => {
    expect(findSpecFile(dir)).toBeUndefined();
  });

  it.each([
    [["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"], "compose.yaml"],
    [["compose.yml", "docker-compose.yaml", "docker-compose.yml"], "compose.yml"],
    [["docker-compose.yaml", "docker-compose.yml"], "docker-compose.yaml"],
    [["docker-compose.yml"], "docker-compose.yml"],
  ])("with %j present, %s wins and the others are ignored", (present, winner) => {
    write(Object.fromEntries(present.map((name) => [name, SPEC])));
    expect(findSpecFile(dir)).toEqual({
      file: winner,
      ignored: present.filter((name) => name !== winner),
    });
  });

  it("ignores a directory with a spec file's name, and other names", () => {
    mkdirSync(join(dir, "compose.yaml"));
    write({ "docker-compose.yml": SPEC, "Compose.yaml.bak": SPEC });
    expect(findSpecFile(dir)).toEqual({ file: "docker-compose.yml", ignored: [] });
  });
});

describe("loadSpec", () => {
  it("without a spec file, names the four accepted names", () => {
    const result = loadSpec(dir);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map(formatProblem)).toEqual([
      `compose.yaml no app spec at the root of the repository: add a compose.yaml (Skiff reads the first of compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml)`,
    ]);
  });

  it("warns about the files it ignores", () => {
    // A routed service, so the only warning is about the files.
    const web = `${SPEC}    ports: ["3000"]\n`;
    write({ "compose.yml": web, "docker-compose.yml": web });
    const result = loadSpec(dir);
    expect(result.ok).toBe(true);
    expect(result.warnings.map(formatProblem)).toEqual([
      "docker-compose.yml ignored, because compose.yml takes precedence (Compose reads only the first of compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml); merge it into compose.yml or delete it",
    ]);
  });

  it("interpolates from .env, with the given env winning over it", () => {
    write({
      "compose.yaml":
        "services:\n  web:\n    image: app:${TAG}\n    environment: { A: $A, B: $B, C: }\n",
      ".env": "TAG=1.0\nA=from-dotenv\nB=from-dotenv\nC=from-dotenv\n",
    });
    const result = loadSpec(dir, { env: { B: "from-config" } });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.spec.file).toBe("compose.yaml");
    expect(result.spec.services.web?.image).toBe("app:1.0");
    expect(result.spec.services.web?.environment).toEqual({
      A: "from-dotenv",
      B: "from-config",
      C: "from-dotenv",
    });
  });

  it("reads env_file relative to the directory; a missing one is a located error", () => {
    write({
      "docker-compose.yml": [
        "services:",
        "  web:",
        "    image: app",
        "    env_file: [config/web.env, ./config/extra.env]",
        "  worker:",
        "    image: app",
        "    env_file: missing.env",
        "",
      ].join("\n"),
      "config/web.env": "A=1\nB=2\n",
      "config/extra.env": "B=3\n",
    });
    const result = loadSpec(dir);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map(formatProblem)).toEqual([
      'docker-compose.yml:7:15 services.worker.env_file: env file "missing.env" not found; the path is relative to the directory of docker-compose.yml. Add the file to the repository, or use { path: missing.env, required: false }',
    ]);
    write({ "missing.env": "C=4\n" });
    const fixed = loadSpec(dir);
    expect(fixed.ok).toBe(true);
    if (!fixed.ok) return;
    expect(fixed.spec.services.web?.environment).toEqual({ A: "1", B: "3" });
    expect(fixed.spec.services.worker?.environment).toEqual({ C: "4" });
  });

  it("reads ${PWD} as the repository's root, as Compose reads it as the project's directory", () => {
    write({
      "compose.yaml":
        "services:\n  web:\n    image: app\n    volumes: ['${PWD}/conf/app.conf:/etc/app.conf:ro']\n",
      "conf/app.conf": "x=1\n",
    });
    const result = loadSpec(dir);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.spec.services.web?.files?.map((f) => f.source)).toEqual([
      { type: "tree", path: "conf/app.conf", kind: "file" },
    ]);
  });

  describe("links out of the repository", () => {
    // The host's secret sits beside the tree, as $SKIFF_HOME does beside the run's work directory.
    const SECRET = "skiff_0123456789abcdef";
    let tree: string;

    beforeEach(() => {
      writeFileSync(join(dir, "admin-token"), `${SECRET}\n`);
      tree = join(dir, "repo");
      mkdirSync(tree);
    });

    function problemsOf(result: ReturnType<typeof loadSpec>): string[] {
      const all = [...(result.ok ? [] : result.errors), ...result.warnings].map(formatProblem);
      for (const line of all) expect(line).not.toContain(SECRET);
      return all;
    }

    it.each(["../admin-token", "an absolute path"])(
      "refuses a compose.yaml linked to %s, without quoting it",
      (target) => {
        symlinkSync(
          target === "an absolute path" ? join(dir, "admin-token") : target,
          join(tree, "compose.yaml"),
        );
        writeFileSync(join(tree, "docker-compose.yml"), SPEC);
        const result = loadSpec(tree);
        expect(result.ok).toBe(false);
        expect(problemsOf(result)).toContain(
          "compose.yaml leads outside the repository (through a symbolic link or ..); Skiff reads only files inside the pushed tree, so commit the file itself instead of a link to it",
        );
      },
    );

    it("refuses a .env linked out of the tree", () => {
      writeFileSync(join(tree, "compose.yaml"), "services:\n  web:\n    image: app:${TOKEN}\n");
      symlinkSync("/proc/self/environ", join(tree, ".env"));
      const result = loadSpec(tree);
      expect(result.ok).toBe(false);
      expect(problemsOf(result)[0]).toMatch(/^\.env leads outside the repository/);
    });

    it("never reads an env_file through a linked directory", () => {
      symlinkSync("..", join(tree, "home"));
      writeFileSync(
        join(tree, "compose.yaml"),
        "services:\n  web:\n    image: app\n    env_file: home/admin-token\n",
      );
      const result = loadSpec(tree);
      expect(result.ok).toBe(false);
      expect(problemsOf(result).join("\n")).toContain("services.web.env_file");
    });

    it("reads files through links that stay inside", () => {
      mkdirSync(join(tree, "config"));
      writeFileSync(join(tree, "config", "real.yaml"), SPEC);
      writeFileSync(join(tree, "config", "web.env"), "A=1\n");
      symlinkSync("config/real.yaml", join(tree, "compose.yaml"));
      symlinkSync("config/web.env", join(tree, ".env"));
      const result = loadSpec(tree);
      expect(result.ok).toBe(true);
    });
  });
});
