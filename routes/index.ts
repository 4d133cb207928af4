// Every route plugin of the app, registered in this order by src/app.ts. Add a plugin with one line here.
import type { FastifyPluginAsync } from 'fastify';
import dashboardRoutes from './dashboard.js';
import devRoutes from './dev.js';
import enrichmentRoutes from './enrichment.js';
import healthRoutes from './health.js';
import jobsRoutes from './jobs.js';
import metricsRoutes from './metrics.js';
import testsRoutes from './tests.js';
import wsRoutes from './ws.js';

export const routePlugins: FastifyPluginAsync[] = [healthRoutes, metricsRoutes, devRoutes, enrichmentRoutes, jobsRoutes, testsRoutes, wsRoutes, dashboardRoutes];
