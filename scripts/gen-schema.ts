/** Writes schema/modelgate.schema.json from src/config/schema.ts (run: npm run schema). */
import { writeFileSync } from 'node:fs';
import { configSchema } from '../src/config/schema.js';

writeFileSync(new URL('../schema/modelgate.schema.json', import.meta.url), JSON.stringify(configSchema, null, 2) + '\n');
