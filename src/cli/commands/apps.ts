import type { Command } from "commander";
import type { AppView, DestroyReport, WebhookView } from "../../apps/app-service.js";
import type { SkiffConfig } from "../../config.js";
import { ExitError } from "../../errors.js";
import { ApiClient } from "../api-client.js";
import { age, print, printJson, table } from "../output.js";

export function registerAppCommands(program: Command, loadConfig: () => SkiffConfig): void {
  const client = () => new ApiClient(loadConfig());

  program
    .command("apps")
    .description("list apps")
    .option("--json", "print as JSON")
    .action(async (options: { json?: boolean }) => {
      const { apps } = await client().get<{ apps: AppView[] }>("/api/v1/apps");
      if (options.json) return printJson(apps);
      if (apps.length === 0) return print("No apps yet. Create one: skiff apps:create NAME");
      print(
        table(
          ["NAME", "CONTAINERS", "CREATED", "URL"],
          apps.map((a) => [a.name, a.containers ?? "?", age(a.createdAt), a.url]),
        ),
      );
    });

  program
    .command("apps:create")
    .argument("<name>", "DNS label: lowercase letters, digits, -")
    .description("create an app")
    .option("--json", "print as JSON")
    .action(async (name: string, options: { json?: boolean }) => {
      const { app } = await client().post<{ app: AppView }>("/api/v1/apps", { name });
      if (options.json) return printJson(app);
      print(`Created ${app.name}.`);
      print(`Git remote:  git remote add skiff ${app.gitRemote}`);
      print(`Address:     ${app.url}`);
    });

  program
    .command("apps:info")
    .argument("<name>")
    .description("show an app")
    .option("--json", "print as JSON")
    .action(async (name: string, options: { json?: boolean }) => {
      const { app } = await client().get<{ app: AppView }>(
        `/api/v1/apps/${encodeURIComponent(name)}`,
      );
      if (options.json) return printJson(app);
      print(
        table(
          ["FIELD", "VALUE"],
          [
            ["name", app.name],
            ["created", `${app.createdAt} (${age(app.createdAt)})`],
            ["deploy branch", app.deployBranch],
            // The API masks any credentials in it.
            ["repository", app.repoUrl ?? "(none)"],
            ["git remote", app.gitRemote],
            ["address", app.url],
            ["containers", app.containers ?? "unknown (Docker did not answer)"],
          ],
        ),
      );
    });

  program
    .command("apps:set")
    .argument("<name>")
    .argument(
      "<settings...>",
      "key=value: repo=URL (webhooks fetch from it), branch=NAME (the deploy branch)",
    )
    .description("change an app's settings")
    .option("--json", "print as JSON")
    .action(async (name: string, pairs: string[], options: { json?: boolean }) => {
      const settings: Record<string, string> = {};
      for (const pair of pairs) {
        const equals = pair.indexOf("=");
        if (equals < 1) throw new ExitError(`"${pair}" is not key=value (e.g. branch=main)`, 2);
        settings[pair.slice(0, equals)] = pair.slice(equals + 1);
      }
      const { app } = await client().patch<{ app: AppView }>(
        `/api/v1/apps/${encodeURIComponent(name)}`,
        settings,
      );
      if (options.json) return printJson(app);
      print(
        `${app.name}: deploy branch ${app.deployBranch}, repository ${app.repoUrl ?? "(none)"}`,
      );
    });

  program
    .command("apps:webhook")
    .argument("<name>")
    .description(
      "show the webhook URLs for GitHub, GitLab and Gitea; --reveal also prints the secret to configure with them",
    )
    .option("--reveal", "print the webhook secret (created on first use)")
    .option("--json", "print as JSON")
    .action(async (name: string, options: { reveal?: boolean; json?: boolean }) => {
      const path = `/api/v1/apps/${encodeURIComponent(name)}/webhook`;
      // The secret is a credential: it is fetched, and so printed, only when asked for.
      const { webhook } = options.reveal
        ? await client().post<{ webhook: WebhookView }>(`${path}/reveal`, {})
        : await client().get<{ webhook: WebhookView }>(path);
      if (options.json) return printJson(webhook);
      print(table(["FORGE", "URL"], Object.entries(webhook.urls)));
      if (webhook.secret !== undefined) {
        print(`\nSecret: ${webhook.secret}`);
        print(
          "GitHub/Gitea: content type application/json, this secret; GitLab: this secret as the token.",
        );
      } else if (webhook.hasSecret) {
        print(`\nSecret: set (print it with: skiff apps:webhook ${name} --reveal)`);
      } else {
        print(
          `\nSecret: none yet; create and print it with: skiff apps:webhook ${name} --reveal\nDeliveries are refused until the forge signs them with it.`,
        );
      }
    });

  program
    .command("apps:destroy")
    .argument("<name>")
    .description("remove an app: its containers, network, routes, registry tags and state")
    .requiredOption("--confirm <name>", "the app's name again, to confirm")
    .option("--json", "print as JSON")
    .action(async (name: string, options: { confirm: string; json?: boolean }) => {
      const { destroyed } = await client().delete<{ destroyed: DestroyReport }>(
        `/api/v1/apps/${encodeURIComponent(name)}?confirm=${encodeURIComponent(options.confirm)}`,
      );
      if (options.json) return printJson(destroyed);
      print(`Destroyed ${destroyed.app}:`);
      print(`  containers removed: ${destroyed.containers.length}`);
      print(`  network removed:    ${destroyed.network ?? "none"}`);
      print(
        `  routes removed:     ${destroyed.domains.length ? destroyed.domains.join(", ") : "none"}`,
      );
      print(`  registry tags:      ${destroyed.registryTags.length}`);
      print(`  local image tags:   ${destroyed.localImages.length}`);
    });
}
