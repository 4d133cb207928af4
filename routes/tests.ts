// Placeholder: filled in by the work on issue 7.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

const testsRoutes: FastifyPluginAsyncTypebox = async () => {};

export default testsRoutes;
