import type { Command } from "commander";
import type { SkiffConfig } from "../../config.js";
import type { CreatedTokenAnswer, TokensAnswer } from "../../server/api/tokens.js";
import { ApiClient } from "../api-client.js";
import { print, printJson, table } from "../output.js";
import { shortAge } from "./releases.js";

export function registerTokenCommands(program: Command, loadConfig: () => SkiffConfig): void {
  const client = () => new ApiClient(loadConfig());

  program
    .command("tokens")
    .description("list the named tokens: scope, app, expiry and last use (never their values)")
    .option("--json", "print as JSON")
    .action(async (options: { json?: boolean }) => {
      const { tokens } = await client().get<TokensAnswer>("/api/v1/tokens");
      if (options.json) return printJson(tokens);
      if (tokens.length === 0) {
        return print(
          "No named tokens. Make one for a developer or CI: skiff tokens:create NAME --app APP --scope deploy",
        );
      }
      const now = new Date();
      print(
        table(
          ["NAME", "SCOPE", "APP", "CREATED", "EXPIRES", "LAST USED"],
          tokens.map((t) => [
            t.name,
            t.scope,
            t.app ?? "(every app)",
            `${shortAge(t.createdAt, now)} ago`,
            !t.expiresAt
              ? "never"
              : Date.parse(t.expiresAt) <= now.getTime()
                ? `expired ${t.expiresAt.slice(0, 10)}`
                : t.expiresAt.slice(0, 10),
            t.lastUsedAt ? `${shortAge(t.lastUsedAt, now)} ago` : "never",
          ]),
        ),
      );
    });

  program
    .command("tokens:create")
    .argument("<name>", "who or what holds it: alice, ci-shop")
    .description("make a token and print it once (Skiff keeps only its hash)")
    .option("--app <app>", "the one app it is for (required unless --scope admin)")
    .option(
      "--scope <scope>",
      "read (runs, releases, ps, logs), deploy (also push, deploy, rollback) or admin",
      "deploy",
    )
    .option("--expires <lifetime>", "90d, 12h, 30m, or never", "90d")
    .option("--json", "print as JSON")
    .action(
      async (
        name: string,
        options: { app?: string; scope: string; expires: string; json?: boolean },
      ) => {
        const answer = await client().post<CreatedTokenAnswer>("/api/v1/tokens", {
          name,
          scope: options.scope,
          ...(options.app ? { app: options.app } : {}),
          expires: options.expires,
        });
        if (options.json) return printJson(answer);
        print(answer.token);
        process.stderr.write(
          `skiff: token ${answer.name} (${answer.scope}${answer.app ? ` for ${answer.app}` : ", every app"}, ${answer.expiresAt ? `expires ${answer.expiresAt.slice(0, 10)}` : "never expires"}). It is shown only now: store it where its holder keeps secrets.\n`,
        );
      },
    );

  program
    .command("tokens:revoke")
    .argument("<name>")
    .description("revoke a token: it stops working at once")
    .action(async (name: string) => {
      await client().request("DELETE", `/api/v1/tokens/${encodeURIComponent(name)}`);
      print(`skiff: token ${name} revoked`);
    });
}
