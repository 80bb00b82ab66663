// Bundles and minifies the widget (TypeScript + CSS) into one file the server
// serves at GET /widget.js, and prints its gzipped size.
import { build, transform } from 'esbuild';
import { readFile, mkdir } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outfile = resolve(here, '../crates/server/assets/widget.js');
const LIMIT_GZIP = 25 * 1024; // issue 13: the one-tag widget stays under 25 KB gzipped

/** `import css from './x.css'` → the minified stylesheet as a string. */
const cssText = {
  name: 'css-text',
  setup(b) {
    b.onLoad({ filter: /\.css$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const { code } = await transform(source, { loader: 'css', minify: true });
      return { contents: `export default ${JSON.stringify(code.trim())};`, loader: 'js' };
    });
  },
};

await mkdir(dirname(outfile), { recursive: true });
await build({
  entryPoints: [resolve(here, 'src/main.ts')],
  outfile,
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  legalComments: 'none',
  banner: { js: '/* Switchboard chat widget */' },
  plugins: [cssText],
  logLevel: 'warning',
});

const bytes = await readFile(outfile);
const gz = gzipSync(bytes, { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`widget.js: ${kb(bytes.length)} raw, ${kb(gz)} gzipped (${gz} bytes) -> ${outfile}`);
if (gz > LIMIT_GZIP) {
  console.error(`widget.js is over the ${kb(LIMIT_GZIP)} gzipped budget`);
  process.exit(1);
}
