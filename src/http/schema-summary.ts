// Route schemas carry an OpenAPI `summary`; Fastify's own type does not list it.
declare module 'fastify' {
  interface FastifySchema {
    summary?: string;
  }
}
export {};
