import type { Replica } from "./engine.js";

/**
 * Every app's replicas from one listing, for a reconcile pass over all
 * apps: one Engine call instead of one per app. The listing grows stale
 * for an app as soon as anything of the deployer changed it (a deploy,
 * scale, restart or reconcile ended, an old replica finished retiring);
 * `replicas` then answers undefined and the app is listed again. What the
 * deployer did not do (a replica died) reaches the reconciler as the
 * engine's change, which lists afresh.
 */
export class ReplicaSurvey {
  private readonly byApp = new Map<string, Replica[]>();

  constructor(
    apps: readonly string[],
    replicas: readonly Replica[],
    /** Each app's change count when the listing was taken. */
    private readonly marks: ReadonlyMap<string, number>,
    private readonly changes: (app: string) => number,
  ) {
    for (const app of apps) this.byApp.set(app, []);
    for (const replica of replicas) {
      const list = this.byApp.get(replica.app);
      if (list) list.push(replica);
      else this.byApp.set(replica.app, [replica]);
    }
  }

  /** Every app with a live release or with replicas, sorted. */
  apps(): string[] {
    return [...this.byApp.keys()].sort();
  }

  /** The app's replicas as listed, or undefined when the listing is stale for it. */
  replicas(app: string): Replica[] | undefined {
    if (this.changes(app) !== (this.marks.get(app) ?? 0)) return undefined;
    return this.byApp.get(app) ?? [];
  }
}
