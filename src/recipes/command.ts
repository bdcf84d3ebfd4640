/** `mmcurate recipes`: the recipes shipped in pipelines/, one line each (invalid ones say why). */
import { bool, formatHelp, parseFlagsOnly, type Flags } from '../cli/args.js';
import { PIPELINES_DIR } from './load.js';
import { describeRecipe, listRecipes } from './registry.js';

const flags: Flags = { json: { type: 'boolean', help: 'print the normalised recipes as JSON' } };

export const help = formatHelp(
  'mmcurate recipes [--json]',
  `Lists the recipes in ${PIPELINES_DIR}: name, what it mixes, and its source. Use one with mmcurate mix --recipe NAME.`,
  flags,
);

/** `write` receives what the command prints (stdout by default; tests capture it). */
export async function run(argv: string[], write: (text: string) => void = (t) => void process.stdout.write(t)): Promise<number> {
  const p = parseFlagsOnly(argv, flags, 'recipes', 'recipes takes no argument (the recipes are the files in pipelines/)');
  if (p.help) {
    write(help);
    return 0;
  }
  const entries = listRecipes();
  if (bool(p, 'json')) {
    write(JSON.stringify(entries.map((e) => (e.recipe ? { file: e.file, ...e.recipe, raw: undefined } : e)), null, 2) + '\n');
  } else {
    for (const e of entries) write(e.recipe ? `${describeRecipe(e.recipe)}\n` : `INVALID ${e.file}: ${e.error}\n`);
  }
  return entries.some((e) => e.error) ? 1 : 0;
}
