import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type Docker from "dockerode";
import { assertAppName } from "../app-names.js";
import { imageRegistryHost, type SkiffConfig } from "../config.js";
import { appNetworkName, LABELS, removeImagesTagged } from "../docker/engine.js";
import {
  ConflictError,
  DependencyError,
  ForbiddenError,
  NotFoundError,
  ValidationError,
} from "../errors.js";
import { removeAppRepository } from "../git/repositories.js";
import type { RunStore } from "../state/runs.js";
import type { AppRecord, Store } from "../state/store.js";
import { maskUrlCredentials } from "../url-credentials.js";

/** An app as the API shows it: its record plus where to push and where it answers. */
export interface AppView extends AppRecord {
  gitRemote: string;
  url: string;
  /** Containers Skiff runs for the app; null when Docker did not answer. */
  containers: number | null;
}

/** An app's webhook settings as the API shows them; `secret` only when revealed. */
export interface WebhookView {
  urls: Record<string, string>;
  hasSecret: boolean;
  secret?: string;
}

/** What `apps:destroy` removed, so the user sees it all went. */
export interface DestroyReport {
  app: string;
  containers: string[];
  network: string | undefined;
  domains: string[];
  registryTags: string[];
  /** The app's image tags removed from this Docker host (its builds, its pulls). */
  localImages: string[];
}

/** The registry operations app lifecycle needs. */
export interface AppRegistry {
  deleteRepositoryTags(
    prefix: string,
    known?: readonly string[],
  ): Promise<{ repository: string; tag: string }[]>;
}

export interface AppServiceOptions {
  store: Store;
  docker: Docker;
  registry: AppRegistry;
  /** What runs for an app: stopped and forgotten before the app is removed. */
  workloads: { forget(app: string): Promise<{ domains: string[]; containers: string[] }> };
  /** LABELS.instance of this installation: only its containers are counted. */
  instance: string;
  config: SkiffConfig;
  /** The app's releases, whose images name the repositories Skiff pushed to. */
  runs?: RunStore;
}

/** What is wrong with a deploy branch name (git's ref rules, simplified), or undefined. */
export function branchProblem(branch: string): string | undefined {
  if (branch === "") return "is empty";
  if (!/^[A-Za-z0-9._/-]+$/.test(branch))
    return 'may only hold letters, digits, ".", "_", "/" and "-"';
  if (
    branch.startsWith("-") ||
    branch.startsWith("/") ||
    branch.endsWith("/") ||
    branch.endsWith(".lock")
  ) {
    return 'must not start with "-" or "/", or end with "/" or ".lock"';
  }
  if (branch.includes("..") || branch.includes("//")) return 'must not contain ".." or "//"';
  return undefined;
}

/** The absolute path a repository URL names on this host (file:// or a path), else undefined. */
export function localRepositoryPath(url: string): string | undefined {
  if (url.startsWith("file://")) {
    try {
      return resolve(decodeURIComponent(new URL(url).pathname));
    } catch {
      return resolve(url.slice("file://".length));
    }
  }
  return url.startsWith("/") ? resolve(url) : undefined;
}

/** Whether `url` looks like something `git fetch` accepts. */
export function isRepositoryUrl(url: string): boolean {
  if (url.startsWith("-")) return false;
  return (
    /^(https?|ssh|git|file):\/\/\S+$/.test(url) ||
    /^[\w.-]+@[\w.-]+:\S+$/.test(url) ||
    /^\/\S+$/.test(url)
  );
}

/** Runs Docker work of a destroy, turning a daemon failure into a message that says what to do. */
async function dockerStep<T>(app: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new DependencyError(
      `could not remove ${app}'s containers and network through Docker: ${(error as Error).message}`,
      "check that Docker runs (skiff status), then run apps:destroy again; nothing else was removed",
    );
  }
}

/** Creating, listing, describing and destroying apps. */
export class AppService {
  /** The container listing in flight, which requests arriving meanwhile share. */
  private counting: Promise<Map<string, number> | undefined> | undefined;

  constructor(private readonly options: AppServiceOptions) {}

  create(name: unknown): AppView {
    if (typeof name !== "string") {
      throw new ValidationError(
        name === undefined
          ? "the app name is missing"
          : `the app name must be a string (got ${JSON.stringify(name)})`,
        'send {"name": "my-app"}',
      );
    }
    assertAppName(name);
    const app = this.options.store.createApp(name);
    if (!app) {
      throw new ConflictError(
        `an app named "${name}" already exists`,
        `choose another name, or see it with \`skiff apps:info ${name}\``,
      );
    }
    return this.view(app, 0);
  }

  async list(): Promise<AppView[]> {
    const counts = await this.containerCounts();
    return this.options.store
      .listApps()
      .map((app) => this.view(app, counts ? (counts.get(app.name) ?? 0) : null));
  }

  async info(name: string): Promise<AppView> {
    const app = this.get(name);
    const counts = await this.containerCounts();
    return this.view(app, counts ? (counts.get(name) ?? 0) : null);
  }

  /**
   * Removes the app's containers, network, routes, registry tags and state.
   * State goes last, so a failure half way leaves the app listed and the
   * destroy can simply be run again.
   */
  async destroy(name: string, confirm: unknown): Promise<DestroyReport> {
    this.get(name);
    if (confirm !== name) {
      throw new ValidationError(
        `destroying "${name}" needs confirmation`,
        `repeat the app's name: skiff apps:destroy ${name} --confirm ${name}`,
      );
    }
    const { docker, registry, workloads, config, store } = this.options;
    const { containers, network, domains } = await dockerStep(name, async () => {
      // Named volumes stay: they hold data a destroy must not take silently.
      const { containers, domains } = await workloads.forget(name);
      let network: string | undefined;
      const networkName = appNetworkName(name, this.options.instance);
      const networks = await docker.listNetworks({ filters: { name: [networkName] } });
      for (const candidate of networks) {
        // The name filter matches substrings; only remove the exact network.
        if (candidate.Name !== networkName) continue;
        await docker.getNetwork(candidate.Id).remove();
        network = candidate.Name;
      }
      return { containers, network, domains };
    });
    // Its containers are gone, so nothing holds the app's images on this host any more.
    const localImages = await dockerStep(name, () =>
      removeImagesTagged(docker, `${imageRegistryHost(config)}/${name}/`),
    );
    let registryTags: string[];
    try {
      registryTags = (await registry.deleteRepositoryTags(name, this.knownRepositories(name))).map(
        (t) => `${t.repository}:${t.tag}`,
      );
    } catch (error) {
      throw new DependencyError(
        `could not delete ${name}'s images from the registry: ${(error as Error).message}`,
        "the app's containers, network and routes are gone; fix the registry (skiff status) and run apps:destroy again",
      );
    }
    removeAppRepository(config.paths.repos, name);
    rmSync(join(config.paths.runs, name), { recursive: true, force: true });
    // The uploaded trees kept for config changes (state/upload-sources.ts).
    rmSync(join(config.paths.uploads, name), { recursive: true, force: true });
    // Its config vars go with the app's row (ON DELETE CASCADE).
    store.deleteApp(name);
    return {
      app: name,
      containers,
      network,
      domains,
      registryTags,
      localImages,
    };
  }

  /**
   * Changes settings given as `key=value` pairs (the CLI's `apps:set`):
   * `repo` (where webhooks fetch from; empty clears it) and `branch` (the
   * deploy branch). Every pair is checked before any is applied.
   */
  /**
   * Changes an app's settings. `localRepositories` false (a token bound to
   * one app) refuses a repository on this host's disk: it could name
   * another app's repository or any git directory Skiff can read. One
   * inside $SKIFF_HOME is refused for everyone: that is Skiff's own data.
   */
  set(name: string, settings: unknown, options: { localRepositories?: boolean } = {}): AppView {
    this.get(name);
    if (typeof settings !== "object" || settings === null || Array.isArray(settings)) {
      throw new ValidationError(
        "settings must be an object",
        'send {"repo": "URL", "branch": "main"}',
      );
    }
    const changes: { deployBranch?: string; repoUrl?: string | null } = {};
    for (const [key, value] of Object.entries(settings)) {
      if (typeof value !== "string") {
        throw new ValidationError(
          `${key} must be a string`,
          `e.g. skiff apps:set ${name} ${key}=VALUE`,
        );
      }
      if (key === "branch") {
        const problem = branchProblem(value);
        if (problem) {
          throw new ValidationError(
            `branch ${JSON.stringify(value)} ${problem}`,
            "use a branch name such as main or release/v2",
          );
        }
        changes.deployBranch = value;
      } else if (key === "repo") {
        if (value !== "" && !isRepositoryUrl(value)) {
          throw new ValidationError(
            `repo ${JSON.stringify(maskUrlCredentials(value))} is not a git repository URL`,
            "use https://host/owner/repo.git, ssh://git@host/owner/repo.git, git@host:owner/repo.git, file:///path or an absolute path",
          );
        }
        const local = localRepositoryPath(value);
        if (local !== undefined) {
          if (options.localRepositories === false) {
            throw new ForbiddenError(
              "a token for one app may not point it at a repository on this host's disk",
              "use a remote URL (https://, ssh://, git@host:), or ask an admin whose token is for every app",
            );
          }
          const home = resolve(this.options.config.home);
          if (local === home || local.startsWith(`${home}/`)) {
            throw new ValidationError(
              `repo ${JSON.stringify(value)} is inside $SKIFF_HOME, which holds Skiff's own data`,
              "point it at the app's own repository elsewhere",
            );
          }
        }
        changes.repoUrl = value === "" ? null : value;
      } else {
        throw new ValidationError(`unknown setting "${key}"`, "settings are: repo, branch");
      }
    }
    this.options.store.updateApp(name, changes);
    return this.view(this.get(name), null);
  }

  /**
   * Where each forge sends its push webhooks for the app, and whether it has
   * the secret that signs them. The secret itself is in the answer only when
   * `reveal` asks for it (and is created then, on first use): it is a
   * credential, shown on purpose, never as a side effect of looking.
   */
  webhook(name: string, options: { reveal?: boolean } = {}): WebhookView {
    this.get(name);
    const { config, store } = this.options;
    const base = `http://${config.host}:${config.port}/hooks`;
    const urls = {
      github: `${base}/github/${name}`,
      gitlab: `${base}/gitlab/${name}`,
      gitea: `${base}/gitea/${name}`,
    };
    if (options.reveal) {
      return { urls, hasSecret: true, secret: store.webhookSecret(name) as string };
    }
    return { urls, hasSecret: store.existingWebhookSecret(name) !== undefined };
  }

  /** `APP/SERVICE` of every image the app's releases recorded. */
  private knownRepositories(app: string): string[] {
    const images = (this.options.runs?.listReleases(app, 10_000) ?? []).flatMap((r) => r.images);
    return [
      ...new Set(
        images.map((i) =>
          i.image
            .replace(/@.*$/, "")
            .replace(/:[^/:]+$/, "")
            .split("/")
            .slice(1)
            .join("/"),
        ),
      ),
    ];
  }

  private get(name: string): AppRecord {
    const app = this.options.store.getApp(name);
    if (!app) {
      throw new NotFoundError(`no app named "${name}"`, "list the apps with `skiff apps`");
    }
    return app;
  }

  /**
   * Containers per app, or undefined when Docker does not answer (listing
   * apps still works). Listing every container is the cost of `GET /apps`,
   * so requests that arrive while one listing runs share its answer.
   */
  private containerCounts(): Promise<Map<string, number> | undefined> {
    this.counting ??= this.countContainers().finally(() => {
      this.counting = undefined;
    });
    return this.counting;
  }

  private async countContainers(): Promise<Map<string, number> | undefined> {
    const counts = new Map<string, number>();
    let containers: Docker.ContainerInfo[];
    try {
      containers = await this.options.docker.listContainers({
        all: true,
        filters: { label: [LABELS.app, `${LABELS.instance}=${this.options.instance}`] },
      });
    } catch {
      return undefined;
    }
    for (const container of containers) {
      const app = container.Labels[LABELS.app];
      // A test stage's throwaway containers are not the app's.
      if (app && !container.Labels[LABELS.testRun]) counts.set(app, (counts.get(app) ?? 0) + 1);
    }
    return counts;
  }

  private view(app: AppRecord, containers: number | null): AppView {
    const { config } = this.options;
    return {
      ...app,
      gitRemote: `http://${config.host}:${config.port}/git/${app.name}.git`,
      url: `http://${app.name}.localhost:${config.edgePort}/`,
      containers,
    };
  }
}
