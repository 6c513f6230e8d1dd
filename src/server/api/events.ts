import type { FastifyInstance } from "fastify";
import { ValidationError } from "../../errors.js";
import type { Store } from "../../state/store.js";

export interface EventRoutesDependencies {
  store: Pick<Store, "listEvents">;
}

export function registerEventRoutes(app: FastifyInstance, deps: EventRoutesDependencies): void {
  app.get<{ Querystring: { limit?: string; component?: string } }>(
    "/api/v1/events",
    async (request) => {
      const limit = request.query.limit === undefined ? 100 : Number(request.query.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        throw new ValidationError(
          `limit=${request.query.limit} is not valid`,
          "use a whole number from 1 to 1000",
        );
      }
      return {
        events: deps.store.listEvents({
          limit,
          ...(request.query.component ? { component: request.query.component } : {}),
        }),
      };
    },
  );
}
