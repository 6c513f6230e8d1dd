import {
  type ConfigSnapshot,
  EMPTY_CONFIG,
  interpolationVariables,
  serviceConfigEnvironment,
} from "../../config-vars.js";
import { SourceTree } from "../../source/tree.js";
import type { AppSpec, Plan } from "../../spec/index.js";
import { formatProblem, loadSpec, toPlan } from "../../spec/index.js";
import { StageFailure } from "../stage-failure.js";
import { collectReleaseFiles, type ReleaseFiles } from "./release-files.js";

/**
 * The end of the source stage: parse the spec in the checked-out tree, with
 * the app's config over its `.env`. Every problem is logged with its
 * location; any error fails the run before a single image is built, so a
 * bad spec never touches the running release. The config's vars go into
 * the services' environments as config-vars.ts says, over what the spec
 * sets there.
 */
export function loadRunSpec(
  app: string,
  sourceDir: string,
  log: (text: string) => void,
  config: ConfigSnapshot = EMPTY_CONFIG,
): { spec: AppSpec; plan: Plan; files: ReleaseFiles } {
  const result = loadSpec(sourceDir, { env: interpolationVariables(config) });
  for (const warning of result.warnings) log(`warning: ${formatProblem(warning)}`);
  if (!result.ok) {
    throw new StageFailure(
      `the app spec has ${result.errors.length} error${result.errors.length === 1 ? "" : "s"}; fix them and push again (skiff spec:check shows them locally)`,
      result.errors.map((e) => `error: ${formatProblem(e)}`),
    );
  }
  const plan = withConfigEnvironment(toPlan(result.spec, app), config, log);
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

/** The plan with the config's vars in each service's environment; a var for a service the spec lacks is said, not lost. */
function withConfigEnvironment(
  plan: Plan,
  config: ConfigSnapshot,
  log: (text: string) => void,
): Plan {
  for (const service of Object.keys(config.services)) {
    if (!plan.services.some((s) => s.name === service)) {
      log(
        `warning: the config has vars for service ${service}, which the spec does not define; they reach no container (skiff config:unset --service ${service} removes them)`,
      );
    }
  }
  return {
    ...plan,
    services: plan.services.map((s) => ({
      ...s,
      container: {
        ...s.container,
        environment: {
          ...s.container.environment,
          ...serviceConfigEnvironment(config, {
            name: s.name,
            builtFromRepository: s.source.type === "build",
          }),
        },
      },
    })),
  };
}
