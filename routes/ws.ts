// Placeholder: filled in by the work on issue 7.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

const wsRoutes: FastifyPluginAsyncTypebox = async () => {};

export default wsRoutes;
