// The event catalog: business event types with descriptions and samples, the `prefix.*` matcher, provider
// type → (object, action), and the check that refuses unknown names with a suggestion.
export * from './event-types.js';
export * from './match.js';
export * from './provider-types.js';
export * from './samples.js';
