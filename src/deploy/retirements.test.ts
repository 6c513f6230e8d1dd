import { describe, expect, it } from "vitest";
import type { Engine, Replica } from "./engine.js";
import { Retirements } from "./retirements.js";

describe("Retirements", () => {
  it("stops a replaced replica only after its settle time, and counts it as retiring meanwhile", async () => {
    const removed: string[] = [];
    const ended: string[] = [];
    const engine = {
      remove: async (replica: Replica) => {
        removed.push(replica.id);
      },
    } as unknown as Engine;
    const retirements = new Retirements(
      engine,
      () => {},
      (replica) => ended.push(replica.id),
    );
    const replica = { id: "old", app: "shop", service: "web" } as Replica;
    const started = Date.now();
    retirements.retire([replica], { afterMs: 200 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(removed).toEqual([]);
    expect(retirements.has("old")).toBe(true);
    await retirements.until("shop", ["web"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(195);
    expect(removed).toEqual(["old"]);
    expect(ended).toEqual(["old"]);
    expect(retirements.has("old")).toBe(false);
  });
});
