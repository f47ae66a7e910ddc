// The house's arrows, checked in npm test (test/deps.test.ts) and by `npm run deps`.
// Rooms, bottom to top: src/util.ts + src/yaml.ts (import nothing of the project but each other, util nothing
// at all) < the engine in src/ < facts/ < tasks/ < lab/ < bench/ and test/.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'an import cycle', from: {}, to: { circular: true } },
    {
      name: 'util-imports-nothing',
      severity: 'error',
      comment: 'src/util.ts is the bottom of the house: it imports no project file',
      from: { path: '^src/util\\.ts$' },
      to: { path: '^(src|facts|tasks|lab|test|bench|bin|build)/' },
    },
    {
      name: 'bottom-layer-stays-at-the-bottom',
      severity: 'error',
      comment: 'src/yaml.ts imports only src/util.ts of the project',
      from: { path: '^src/yaml\\.ts$' },
      to: { path: '^(src|facts|tasks|lab|test|bench|bin|build)/', pathNot: '^src/util\\.ts$' },
    },
    {
      name: 'engine-does-not-know-its-users',
      severity: 'error',
      comment:
        'src/ never imports facts/, tasks/, lab/, test/, bench/ or build/ (tasks are found at run time by the registry)',
      from: { path: '^src/' },
      to: { path: '^(facts|tasks|lab|test|bench|build)/' },
    },
    {
      name: 'facts-are-reads',
      severity: 'error',
      comment: 'facts/ build on the engine only: a fact is a command and a parser, it knows no task',
      from: { path: '^facts/' },
      to: { path: '^(tasks|lab|test|bench)/' },
    },
    {
      name: 'tasks-do-not-import-the-lab-or-tests',
      severity: 'error',
      from: { path: '^tasks/' },
      to: { path: '^(lab|test|bench)/' },
    },
    {
      name: 'the-lab-is-a-product',
      severity: 'error',
      comment: 'lab/ is used by npm run lab/demo and bench/: it does not import tests',
      from: { path: '^lab/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^test/(fixtures|\\.fixture-)' },
    tsPreCompilationDeps: true,
    combinedDependencies: false,
  },
}
