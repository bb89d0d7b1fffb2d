// Request validation with TypeBox, checking before converting. The type provider's own compiler runs
// Value.Convert over the params, headers and query string of every request before checking them: a walk over
// every header, on every webhook, even though those parts nearly always arrive valid as they are (strings that
// schemas declare as strings). Here the compiled check runs first and the value is kept as it came when it passes;
// only a part that fails is converted (a numeric query parameter arrives as text) and checked again, which is
// exactly what the type provider would have answered for it.
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';

export const checkFirstValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const compiled = Compile(schema);
  // TypeBox's errors carry the fields Fastify's error formatter and validation-problems.ts read.
  const errorsOf = (value: unknown) => compiled.Errors(value) as unknown as FastifySchemaValidationError[];
  return (value: unknown) => {
    if (compiled.Check(value)) return { value };
    // A body is JSON: its types are what the sender wrote, never converted.
    if (httpPart === 'body') return { error: errorsOf(value) };
    const converted = Value.Convert(schema, value);
    if (compiled.Check(converted)) return { value: converted };
    return { error: errorsOf(converted) };
  };
};
