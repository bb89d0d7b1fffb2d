// Runs the sluice CLI from the TypeScript sources (tests spawn this instead of the compiled bin).
import { runCli } from '../../src/cli/main.js';

process.exitCode = await runCli(process.argv.slice(2));
