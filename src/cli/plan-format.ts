import type { ImageSource, Plan, PlanHealth } from "../spec/index.js";
import { table } from "./output.js";

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function describeSource(source: ImageSource): string {
  if (source.type === "image") return `run ${source.image}`;
  const parts = [`build ${source.context}`];
  if (source.dockerfile !== "Dockerfile") parts.push(`(${source.dockerfile})`);
  if (source.target) parts.push(`target ${source.target}`);
  if (source.tag) parts.push(`as ${source.tag}`);
  return parts.join(" ");
}

function describeHealth(health: PlanHealth): string {
  switch (health.type) {
    case "http":
      return `GET ${health.path} on :${health.port}${health.host ? ` (Host ${health.host})` : ""} within ${seconds(health.deadlineMs)}`;
    case "docker":
      return `${health.test ? shorten(health.test.join(" "), 48) : "the image's HEALTHCHECK"} within ${seconds(health.deadlineMs)}`;
    case "running":
      return "running";
  }
}

/** The plan `spec:check` prints for people: one row per service, then tests and volumes. */
export function formatPlan(plan: Plan): string {
  const rows = plan.services.map((s) => [
    s.name,
    s.kind,
    describeSource(s.source),
    s.replicas,
    s.routes.length ? s.routes.map((r) => `${r.domain} → :${r.port}`).join(", ") : undefined,
    describeHealth(s.health),
  ]);
  const lines = [
    `Plan for app "${plan.app}" (services in start order)`,
    "",
    table(["SERVICE", "KIND", "IMAGE", "REPLICAS", "ROUTES", "HEALTH CHECK"], rows),
  ];
  const dependencies = plan.services.filter((s) => s.dependsOn.length > 0);
  if (dependencies.length) {
    lines.push("", "Dependencies:");
    for (const s of dependencies) {
      lines.push(
        `  ${s.name} after ${s.dependsOn.map((d) => `${d.service} (${d.condition})`).join(", ")}`,
      );
    }
  }
  lines.push(
    "",
    plan.tests.length
      ? "Tests:"
      : "Tests: none (add x-skiff.test entries to run them before a deploy)",
  );
  for (const t of plan.tests) lines.push(`  ${t.service}: ${t.run}`);
  if (plan.volumes.length) lines.push("", `Volumes: ${plan.volumes.join(", ")}`);
  return lines.join("\n");
}
