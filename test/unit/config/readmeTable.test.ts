// The README's configuration table is the config sections rendered: it cannot drift from the code.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { END, renderReadme, START } from '../../../src/cli/configTable.js';
import { CONFIG_SECTIONS } from '../../../src/config.js';

describe('README configuration table', () => {
  const readme = readFileSync(join(import.meta.dirname, '../../../README.md'), 'utf8');

  it('is what the config sections render (run `npm run docs:config` after changing a variable)', () => {
    expect(readme).toContain(START);
    expect(readme).toContain(END);
    expect(renderReadme(readme)).toBe(readme);
  });

  it('lists every variable of every section, each once', () => {
    const names = CONFIG_SECTIONS.flatMap((s) => Object.values(s.fields).map((v) => v.name));
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(readme).toContain(`| \`${name}\``);
    expect(names).toEqual(
      expect.arrayContaining(['PORT', 'JWT_SECRET', 'STRIPE_SECRET_KEY', 'USERS_MAX_BATCH']),
    );
  });
});
