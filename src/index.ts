/** The action's entry point (action.yml runs dist/index.js, built from here). */
import { run } from './main.js';

await run();
