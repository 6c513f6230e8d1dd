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
import { collectReleaseFiles, composeSecretValues, type ReleaseFiles } from "./release-files.js";

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
): { spec: AppSpec; plan: Plan; files: ReleaseFiles; secrets: { name: string; value: string }[] } {
  const result = loadSpec(sourceDir, { env: interpolationVariables(config) });
  for (const warning of result.warnings) log(`warning: ${formatProblem(warning)}`);
  if (!result.ok) {
    throw new StageFailure(
      `the app spec has ${result.errors.length} error${result.errors.length === 1 ? "" : "s"}; fix them and push again (skiff spec:check shows them locally)`,
      result.errors.map((e) => `error: ${formatProblem(e)}`),
    );
  }
  const plan = withConfigEnvironment(toPlan(result.spec, app), config, log);
  refuseSecretBuildArgs(plan, config);
  const services = plan.services.map((s) => `${s.name} (${s.kind})`).join(", ");
  log(
    `${result.spec.file}: ${plan.services.length} service${plan.services.length === 1 ? "" : "s"}: ${services}`,
  );
  const tree = new SourceTree(sourceDir);
  const files = collectReleaseFiles({ tree, plan, env: result.variables });
  const count = Object.keys(files).length;
  if (count > 0) {
    log(
      `files for ${count} service${count === 1 ? "" : "s"} (binds, secrets, configs) read from the tree`,
    );
  }
  return {
    spec: result.spec,
    plan,
    files,
    secrets: composeSecretValues({ tree, plan, env: result.variables }),
  };
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

/**
 * A build arg stays in the image's history for anyone who pulls it: a
 * secret config var must never be one (through `${VAR}` or an arg without a
 * value). Refused with where, never with the value.
 */
function refuseSecretBuildArgs(plan: Plan, config: ConfigSnapshot): void {
  const secrets = (config.secret ?? [])
    .filter((name) => !name.includes("/"))
    .map((name) => ({ name, value: config.app[name] }))
    .filter((s): s is { name: string; value: string } => s.value !== undefined && s.value !== "");
  const problems: string[] = [];
  for (const service of plan.services) {
    if (service.source.type !== "build") continue;
    for (const [arg, value] of Object.entries(service.source.args)) {
      const secret = secrets.find((s) => value.includes(s.value));
      if (secret) {
        problems.push(
          `error: services.${service.name}.build.args.${arg} would carry the secret ${secret.name} into the image, whose history keeps build args; give it to the container at run time instead (environment:, or a Compose secret)`,
        );
      }
    }
  }
  if (problems.length > 0) {
    throw new StageFailure("a secret config var is used as a build arg", problems);
  }
}
