/**
 * One lock per app: deploy, scale, restart and reconcile of the same app
 * never interleave, while different apps proceed in parallel.
 */
export class AppLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `work` after every earlier holder of the app's lock has finished, successfully or not. */
  async exclusive<T>(app: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(app) ?? Promise.resolve();
    // An earlier holder's failure is its caller's to handle; here it only means "done".
    const mine = previous.then(work, work);
    const tail = mine.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(app, tail);
    try {
      return await mine;
    } finally {
      if (this.tails.get(app) === tail) this.tails.delete(app);
    }
  }

  /** True while someone holds or waits for the app's lock. */
  busy(app: string): boolean {
    return this.tails.has(app);
  }
}
