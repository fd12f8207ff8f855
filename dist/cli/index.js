#!/usr/bin/env node
// The cli role of the one bundle (src/entry.ts).
globalThis.__modelgateRole = 'cli';
await import('../index.js');
