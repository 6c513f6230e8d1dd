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
  refuseSecretsInImages(plan, config);
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
 * An image keeps its build args in its history for anyone who pulls it, and
 * its name goes to whichever registry it is pulled from: a secret config
 * var must be in neither (through `${VAR}` or an arg without a value).
 * Refused with where, never with the value.
 */
function refuseSecretsInImages(plan: Plan, config: ConfigSnapshot): void {
  const secrets = (config.secret ?? [])
    .filter((name) => !name.includes("/"))
    .map((name) => ({ name, value: config.app[name] }))
    .filter((s): s is { name: string; value: string } => s.value !== undefined && s.value !== "");
  if (secrets.length === 0) return;
  const problems: string[] = [];
  const check = (at: string, value: string | undefined, where: string) => {
    const secret = value === undefined ? undefined : secrets.find((s) => value.includes(s.value));
    if (secret) problems.push(`error: ${at} would carry the secret ${secret.name} ${where}`);
  };
  const runTime =
    "; give it to the container at run time instead (environment:, or a Compose secret)";
  for (const service of plan.services) {
    const at = `services.${service.name}`;
    const source = service.source;
    if (source.type === "image") {
      check(`${at}.image`, source.image, `to the registry it is pulled from${runTime}`);
      continue;
    }
    for (const [arg, value] of Object.entries(source.args)) {
      check(
        `${at}.build.args.${arg}`,
        value,
        `into the image, whose history keeps build args${runTime}`,
      );
    }
    check(`${at}.build.context`, source.context, `into the image's build${runTime}`);
    check(`${at}.build.dockerfile`, source.dockerfile, `into the image's build${runTime}`);
    check(`${at}.build.target`, source.target, `into the image's build${runTime}`);
    check(`${at}.image`, source.tag, `into the image's name${runTime}`);
  }
  if (problems.length > 0) {
    throw new StageFailure("a secret config var is used to make an image", problems);
  }
}
