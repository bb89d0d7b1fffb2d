// Every API route refuses a query parameter it does not know, with the 400 that names it: routes with
// parameters already did (their schemas close the object), routes without any took anything and ignored it, so a
// mistyped or misplaced filter (`GET …/workflows?enabled=false`) answered as if it had been applied.
// Webhook routes stay outside this scope: a provider, or a user's URL, may add what it likes.
import type { FastifyInstance, RouteOptions } from 'fastify';
import { query } from '../schemas/common.js';

const NO_PARAMETERS = query({});

/** Call on the API scope before its routes are registered (the onRoute hook sees only routes added after it). */
export function refuseUnknownQueryParameters(api: FastifyInstance): void {
  api.addHook('onRoute', (route: RouteOptions) => {
    if (route.schema && route.schema.querystring === undefined) route.schema.querystring = NO_PARAMETERS;
    else if (!route.schema) route.schema = { querystring: NO_PARAMETERS };
  });
}
