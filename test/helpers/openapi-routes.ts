// The routes a server registers, read from its own OpenAPI document (a test checks it lists every registered
// route), as [METHOD, '/path/:param'] — so the hostile-input test and bench/attack.ts attack a new route too.
export interface OpenApiPaths {
  paths: Record<string, Record<string, unknown>>;
}

export function routesOf(doc: OpenApiPaths): Array<[string, string]> {
  return Object.entries(doc.paths).flatMap(([p, ops]) =>
    Object.keys(ops)
      .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
      .map((m): [string, string] => [m.toUpperCase(), p.replace(/\{([^}]+)\}/g, ':$1')]),
  );
}
