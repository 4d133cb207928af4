// Every route plugin of the app, registered in this order by src/app.ts. Add a plugin with one line here.
import type { FastifyPluginAsync } from 'fastify';
import devRoutes from './dev.js';
import enrichmentRoutes from './enrichment.js';
import healthRoutes from './health.js';

export const routePlugins: FastifyPluginAsync[] = [healthRoutes, devRoutes, enrichmentRoutes];
