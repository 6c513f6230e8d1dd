import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import type { SkiffConfig } from "../config.js";
import { LABELS } from "../docker/engine.js";
import { openDatabase } from "../state/database.js";
import { Store } from "../state/store.js";
import { AppService } from "./app-service.js";

describe("AppService.list", () => {
  it("counts each app's containers, one listing shared by the requests that arrive while it runs", async () => {
    const store = new Store(openDatabase(":memory:"));
    store.createApp("blog");
    store.createApp("shop");
    let listings = 0;
    let answer: (containers: Docker.ContainerInfo[]) => void = () => {};
    const container = (labels: Record<string, string>) =>
      ({ Labels: labels }) as Docker.ContainerInfo;
    const docker = {
      listContainers: () => {
        listings++;
        return new Promise<Docker.ContainerInfo[]>((resolve) => {
          answer = resolve;
        });
      },
    } as unknown as Docker;
    const apps = new AppService({
      store,
      docker,
      registry: { deleteRepositoryTags: async () => [] },
      workloads: { forget: async () => ({ domains: [], containers: [] }) },
      instance: "test",
      config: { host: "127.0.0.1", port: 7070, edgePort: 8080 } as SkiffConfig,
    });

    const first = apps.list();
    const second = apps.list();
    answer([
      container({ [LABELS.app]: "shop" }),
      container({ [LABELS.app]: "shop" }),
      // A test stage's throwaway container is not the app's.
      container({ [LABELS.app]: "blog", [LABELS.testRun]: "7" }),
    ]);
    const counts = (list: { name: string; containers: number | null }[]) =>
      Object.fromEntries(list.map((a) => [a.name, a.containers]));
    expect(counts(await first)).toEqual({ blog: 0, shop: 2 });
    expect(counts(await second)).toEqual({ blog: 0, shop: 2 });
    expect(listings).toBe(1);

    // A request after that listing ended lists again.
    const third = apps.list();
    answer([]);
    expect(counts(await third)).toEqual({ blog: 0, shop: 0 });
    expect(listings).toBe(2);
  });
});

describe("AppService.set of a repository on this host", () => {
  const service = () => {
    const store = new Store(openDatabase(":memory:"));
    store.createApp("shop");
    const apps = new AppService({
      store,
      docker: {} as Docker,
      registry: { deleteRepositoryTags: async () => [] },
      workloads: { forget: async () => ({ domains: [], containers: [] }) },
      instance: "test",
      config: { home: "/srv/skiff", host: "127.0.0.1", port: 7070, edgePort: 8080 } as SkiffConfig,
    });
    return { store, apps };
  };

  it.each(["/home/u/bank.git", "file:///home/u/bank.git"])(
    "refuses %s from a token for one app, and takes it from one for every app",
    (repo) => {
      const { store, apps } = service();
      expect(() => apps.set("shop", { repo }, { localRepositories: false })).toThrow(
        "a token for one app may not point it at a repository on this host's disk",
      );
      expect(store.getApp("shop")?.repoUrl).toBeUndefined();
      apps.set("shop", { repo }, { localRepositories: true });
      expect(store.getApp("shop")?.repoUrl).toBe(repo);
    },
  );

  it.each(["/srv/skiff/repos/blog.git", "file:///srv/skiff/repos/../repos/blog.git", "/srv/skiff"])(
    "refuses %s for everyone: it is inside $SKIFF_HOME",
    (repo) => {
      const { apps } = service();
      expect(() => apps.set("shop", { repo }, { localRepositories: true })).toThrow(
        "is inside $SKIFF_HOME",
      );
    },
  );

  it("takes a remote URL from a token for one app", () => {
    const { store, apps } = service();
    apps.set("shop", { repo: "https://git.example/shop.git" }, { localRepositories: false });
    expect(store.getApp("shop")?.repoUrl).toBe("https://git.example/shop.git");
  });
});
