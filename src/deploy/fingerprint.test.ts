import { describe, expect, it } from "vitest";
import { decodePlan, encodePlan } from "../spec/plan-codec.js";
import { serviceFingerprint } from "./fingerprint.js";
import { planFrom } from "./testing/plans.js";

const spec = (web: string) => `
services:
  web:
    build: { context: ., args: { A: "1" } }
    ports: ["8080:80"]
${web}
  db:
    image: mariadb
`;
const fingerprint = (web = "", digest = "sha256:a", files?: Buffer) =>
  serviceFingerprint(
    planFrom("shop", spec(web)).services.find((s) => s.name === "web") as never,
    digest,
    files,
  );

describe("serviceFingerprint", () => {
  const base = fingerprint();

  it.each([
    ["another image", fingerprint("", "sha256:b")],
    ["another environment", fingerprint("    environment: { A: b }")],
    ["another command", fingerprint("    command: [node, other.js]")],
    ["another memory limit", fingerprint("    deploy: { resources: { limits: { memory: 64M } } }")],
    ["other release files", fingerprint("", "sha256:a", Buffer.from("x"))],
    ["a Docker healthcheck", fingerprint("    healthcheck: { test: [CMD, 'true'] }")],
  ])("changes with %s", (_what, changed) => {
    expect(changed).not.toBe(base);
  });

  it.each([
    ["another replica count", fingerprint("    deploy: { replicas: 3 }")],
    ["another domain", fingerprint("    x-skiff: { domains: [shop.example.com] }")],
    ["a new dependency", fingerprint("    depends_on: [db]")],
    ["another HTTP health path", fingerprint("    x-skiff: { health: { path: /healthz } }")],
  ])("stays with %s: no container changes", (_what, same) => {
    expect(same).toBe(base);
  });

  it("is the same for a plan decoded from storage", () => {
    const plan = planFrom("shop", spec(""));
    const decoded = decodePlan(encodePlan(plan));
    for (const [i, service] of plan.services.entries()) {
      expect(serviceFingerprint(decoded.services[i] as never, "sha256:a")).toBe(
        serviceFingerprint(service, "sha256:a"),
      );
    }
  });
});
