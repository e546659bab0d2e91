// `npm run build`: compiles src/ to dist/ with tsc, then copies what the server reads at run time
// besides code (the schema SDL, the playground's own assets and the accounts' SQL migrations), so the output runs without src/.
// `--out <dir>` builds elsewhere (the build test uses a directory under node_modules/.cache).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const outFlag = process.argv.indexOf('--out');
const out =
  outFlag > 0 && process.argv[outFlag + 1] ? resolve(process.argv[outFlag + 1]) : join(root, 'dist');
rmSync(out, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', out], {
  stdio: 'inherit',
});
mkdirSync(join(out, 'schema'), { recursive: true });
cpSync(join(root, 'schema'), join(out, 'schema'), { recursive: true });
cpSync(join(root, 'src/graphql/playground'), join(out, 'graphql/playground'), { recursive: true });
cpSync(join(root, 'src/accounts/migrations'), join(out, 'accounts/migrations'), { recursive: true });
