// The worker role of the one bundle (src/entry.ts).
globalThis.__modelgateRole = 'worker';
await import('../index.js');
