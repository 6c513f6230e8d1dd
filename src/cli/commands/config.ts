import type { Command } from "commander";
import type { SkiffConfig } from "../../config.js";
import { configKeyProblem } from "../../config-vars.js";
import { ExitError } from "../../errors.js";
import type {
  ConfigAnswer,
  ConfigChangeAnswer,
  ConfigValueAnswer,
} from "../../server/api/config.js";
import { ApiClient } from "../api-client.js";
import { print, printJson } from "../output.js";
import { followRun } from "./runs.js";

/** Exit code of a usage error (DESIGN.md). */
const EXIT_USAGE = 2;

/** `KEY=VALUE` arguments to an object; the value is everything after the first `=`, byte for byte. */
export function parseAssignments(args: readonly string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const arg of args) {
    const at = arg.indexOf("=");
    const key = at < 0 ? arg : arg.slice(0, at);
    if (at < 0) {
      throw new ExitError(
        `skiff: ${JSON.stringify(key.slice(0, 64))} has no value; write KEY=VALUE (KEY= sets an empty value)`,
        EXIT_USAGE,
      );
    }
    const problem = configKeyProblem(key);
    if (problem) throw new ExitError(`skiff: ${problem}`, EXIT_USAGE);
    if (Object.hasOwn(vars, key)) {
      throw new ExitError(`skiff: ${key} is given twice; give each key once`, EXIT_USAGE);
    }
    vars[key] = arg.slice(at + 1);
  }
  return vars;
}

/** A value as `skiff config` shows it: as it is when it reads plainly, else JSON-quoted. */
export function shownValue(value: string): string {
  return /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(value) ? value : JSON.stringify(value);
}

/** The lines of `skiff config`: app-wide vars, then each service's own; a masked secret shows as [secret]. */
export function configLines(config: ConfigAnswer): string[] {
  const block = (vars: Record<string, string | null>, service: string) => {
    const keys = Object.keys(vars).sort();
    const width = Math.max(0, ...keys.map((k) => k.length));
    return keys.map((key) => {
      const value = vars[key];
      const secret = config.secret.includes(service ? `${service}/${key}` : key);
      const shown = value === null || value === undefined ? "[secret]" : shownValue(value);
      return `${key.padEnd(width)}  ${shown}${secret && value !== null ? "  (secret)" : ""}`;
    });
  };
  const lines = block(config.app, "");
  for (const service of Object.keys(config.services).sort()) {
    const vars = config.services[service] ?? {};
    if (Object.keys(vars).length === 0) continue;
    if (lines.length > 0) lines.push("");
    lines.push(`service ${service}:`, ...block(vars, service).map((line) => `  ${line}`));
  }
  return lines;
}

export function registerConfigCommands(program: Command, loadConfig: () => SkiffConfig): void {
  const client = () => new ApiClient(loadConfig());
  const path = (app: string) => `/api/v1/apps/${encodeURIComponent(app)}/config`;

  program
    .command("config")
    .argument("<app>")
    .description("show an app's config vars: app-wide, then each service's own (secrets masked)")
    .option("--reveal", "show the secrets' values too")
    .option("--json", "print as JSON (a masked secret's value is null)")
    .action(async (app: string, options: { json?: boolean; reveal?: boolean }) => {
      const answer = await client().get<ConfigAnswer>(
        `${path(app)}${options.reveal ? "?reveal=true" : ""}`,
      );
      if (options.json) return printJson(answer);
      const lines = configLines(answer);
      if (lines.length === 0) {
        return print(`${app} has no config vars. Set one: skiff config:set ${app} KEY=VALUE`);
      }
      print(lines.join("\n"));
    });

  program
    .command("config:get")
    .argument("<app>")
    .argument("<key>")
    .description("print one config var's value, exactly as set")
    .option("--service <service>", "a var of this service alone")
    .option("--reveal", "print it even when it is a secret")
    .action(async (app: string, key: string, options: { service?: string; reveal?: boolean }) => {
      const params = new URLSearchParams();
      if (options.service) params.set("service", options.service);
      if (options.reveal) params.set("reveal", "true");
      const query = params.size > 0 ? `?${params}` : "";
      const answer = await client().get<ConfigValueAnswer>(
        `${path(app)}/${encodeURIComponent(key)}${query}`,
      );
      process.stdout.write(`${answer.value}\n`);
    });

  const change = async (
    app: string,
    body: { set?: Record<string, string>; unset?: string[] },
    options: { service?: string; restart: boolean; secret?: boolean },
  ) => {
    const api = client();
    const answer = await api.request<ConfigChangeAnswer>("PATCH", path(app), {
      ...body,
      ...(options.service ? { service: options.service } : {}),
      ...(options.secret ? { secret: true } : {}),
      restart: options.restart,
    });
    const where = options.service ? ` (service ${options.service})` : "";
    if (answer.changed.length > 0)
      print(`skiff: ${app}${where}: ${answer.changed.join(", ")} changed`);
    if (answer.notSet.length > 0) print(`skiff: ${answer.notSet.join(", ")} was not set`);
    if (answer.run === undefined) {
      if (answer.stored) print(`skiff: ${answer.stored}`);
      return;
    }
    print(`skiff: run ${answer.run} of ${app}: a new release with this config`);
    const status = await followRun(api, app, answer.run);
    if (status !== "succeeded") throw new ExitError("", 1);
  };

  program
    .command("config:set")
    .argument("<app>")
    .argument("<assignments...>", "KEY=VALUE, as many as you like")
    .description(
      "set config vars and roll them out as a new release of the live images (only services whose environment changes are replaced)",
    )
    .option("--service <service>", "set them for this service alone")
    .option(
      "--secret",
      "seal them at rest, mask them in answers and scrub them from every log (a secret stays one)",
    )
    .option("--no-restart", "store them for the next release instead of making one now")
    .action(
      async (
        app: string,
        assignments: string[],
        options: { service?: string; restart: boolean; secret?: boolean },
      ) => change(app, { set: parseAssignments(assignments) }, options),
    );

  program
    .command("config:unset")
    .argument("<app>")
    .argument("<keys...>")
    .description("remove config vars and roll that out as a new release")
    .option("--service <service>", "remove them from this service's own vars")
    .option("--no-restart", "store the change for the next release instead of making one now")
    .action(async (app: string, keys: string[], options: { service?: string; restart: boolean }) =>
      change(app, { unset: keys }, options),
    );
}
