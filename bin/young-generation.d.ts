// Types of young-generation.js, which bin/sluice.js imports as plain JavaScript before dist/ is loaded.
export declare const YOUNG_GENERATION_FLAG: string;
export declare function restartArgv(o: {
  execPath: string;
  execArgv: readonly string[];
  argv: readonly string[];
  nodeOptions: string | undefined;
  canExec: boolean;
}): string[] | undefined;
