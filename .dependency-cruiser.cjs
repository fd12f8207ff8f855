/**
 * Layers that only point down: a module may import its own layer and the layers below it, never one
 * above. `npm run lint:deps` (run by `npm test`) fails the build on an upward import or a cycle.
 * Order, bottom to top (docs/architecture.md draws the same map):
 */
const LAYERS = [
  ['errors.ts', 'version.ts', 'io'],
  ['config', 'data', 'model', 'git', 'formats'],
  ['runtime'],
  ['import'],
  ['load'],
  ['passes'],
  ['export'],
  ['candidates'],
  ['evaluate', 'benchmark'],
  ['search'],
  ['gate'],
  ['report'],
  ['compare'],
  ['commands'],
  ['publish'],
  ['cli', 'entry.ts', 'index.ts', 'main.ts'],
];

const pattern = (names) => `^src/(${names.map((n) => n.replace(/\./g, '\\.')).join('|')})($|/)`;

module.exports = {
  forbidden: [
    ...LAYERS.slice(0, -1).map((layer, i) => ({
      name: `layer-${layer[0].replace(/\.ts$/, '')}-points-down`,
      comment: `${layer.join(', ')} may not import a higher layer (${LAYERS.slice(i + 1).flat().join(', ')})`,
      severity: 'error',
      from: { path: pattern(layer) },
      to: { path: pattern(LAYERS.slice(i + 1).flat()) },
    })),
    {
      name: 'no-unlayered-folder',
      comment: 'every src/ folder belongs to a layer: add a new one to LAYERS',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/', pathNot: [pattern(LAYERS.flat()), '^src/model/proto/'] },
    },
    { name: 'no-circular', severity: 'error', from: { path: '^src/' }, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^src/model/proto/' },
  },
};
