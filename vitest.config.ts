import { defineConfig } from "vitest/config";

// Unit tests sit beside their code and need nothing running; integration
// tests under test/ drive the real Docker Engine, registry and HAProxy, so
// they run one file at a time to keep ports and the daemon unshared.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["src/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
