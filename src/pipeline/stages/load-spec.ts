import { SourceTree } from "../../source/tree.js";
import type { AppSpec, Plan } from "../../spec/index.js";
import { formatProblem, loadSpec, toPlan } from "../../spec/index.js";
import { StageFailure } from "../stage-failure.js";
import { collectReleaseFiles, type ReleaseFiles } from "./release-files.js";

/**
 * The end of the source stage: parse the spec in the checked-out tree. Every
 * problem is logged with its location; any error fails the run before a
 * single image is built, so a bad spec never touches the running release.
 */
export function loadRunSpec(
  app: string,
  sourceDir: string,
  log: (text: string) => void,
  env: Record<string, string> = {},
): { spec: AppSpec; plan: Plan; files: ReleaseFiles } {
  const result = loadSpec(sourceDir, { env });
  for (const warning of result.warnings) log(`warning: ${formatProblem(warning)}`);
  if (!result.ok) {
    throw new StageFailure(
      `the app spec has ${result.errors.length} error${result.errors.length === 1 ? "" : "s"}; fix them and push again (skiff spec:check shows them locally)`,
      result.errors.map((e) => `error: ${formatProblem(e)}`),
    );
  }
  const plan = toPlan(result.spec, app);
  const services = plan.services.map((s) => `${s.name} (${s.kind})`).join(", ");
  log(
    `${result.spec.file}: ${plan.services.length} service${plan.services.length === 1 ? "" : "s"}: ${services}`,
  );
  const files = collectReleaseFiles({
    tree: new SourceTree(sourceDir),
    plan,
    env: result.variables,
  });
  const count = Object.keys(files).length;
  if (count > 0) {
    log(
      `files for ${count} service${count === 1 ? "" : "s"} (binds, secrets, configs) read from the tree`,
    );
  }
  return { spec: result.spec, plan, files };
}
