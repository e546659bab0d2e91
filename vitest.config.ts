import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module) copies. Node, and so Apollo, loads the CJS one;
    // Vite would hand our sources the ESM one, and `instanceof GraphQLError` would then fail
    // across the two. Pin every import to the copy Node uses.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    exclude: ['test/bench/**', 'node_modules/**'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // The machine has 2 cores; tests open real sockets, so keep parallelism modest.
    maxWorkers: 2,
  },
});
