// The billing dashboard's build: esbuild bundles dashboard/src into one script and one stylesheet with
// content-hashed names, and index.html is written to point at them. The local stack serves the result from
// memory; the CDK dashboard stack writes it under dashboard/dist and deploys that folder to S3.
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { buildSync } from 'esbuild';

const root = fileURLToPath(new URL('.', import.meta.url));

/** Where `writeDashboard` puts the builds the CDK stack deploys (gitignored). */
export const DASHBOARD_DIST = join(root, 'dist');

export type DashboardFile = {
  /** URL path, e.g. `/index.html`, `/assets/app-3FZ2.js`. */
  path: string;
  contentType: string;
  body: Buffer;
  /** Pre-compressed once, so every answer (and the size report) costs nothing more. */
  gzip: Buffer;
  /** Content-hashed assets never change under their name; index.html must always be revalidated. */
  immutable: boolean;
  /**
   * Loaded with the page itself (index.html, the stylesheet, the entry script and the chunks it imports
   * statically); the other chunks are views loaded when first opened. The page budget counts these.
   */
  initial: boolean;
};

const contentTypes: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
};

/**
 * The policy the page runs under, sent by the local stack and by CloudFront alike: scripts, styles and API
 * calls from this origin only (the API is on the same origin), nothing framed, no inline script.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

function file(path: string, body: Buffer, immutable: boolean, initial = true): DashboardFile {
  const extension = path.slice(path.lastIndexOf('.'));
  return {
    path,
    contentType: contentTypes[extension] ?? 'application/octet-stream',
    body,
    gzip: gzipSync(body, { level: 9 }),
    immutable,
    initial,
  };
}

/** Bundles and minifies the dashboard; nothing is written to disk. */
export function buildDashboard(): DashboardFile[] {
  const result = buildSync({
    entryPoints: [join(root, 'src/app.ts'), join(root, 'src/app.css')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022', 'chrome109', 'firefox115', 'safari16'],
    entryNames: 'assets/[name]-[hash]',
    // Views other than the first page are chunks loaded when opened (app.ts), so the page stays small as
    // views are added.
    splitting: true,
    chunkNames: 'assets/[name]-[hash]',
    outdir: join(root, 'out'),
    write: false,
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const outDir = join(root, 'out');
  // Metafile paths are relative to the working directory; URLs are relative to the output folder.
  const urlOf = (path: string) => `/${relative(outDir, resolve(path)).replaceAll('\\', '/')}`;
  const outputs = result.metafile.outputs;
  const entry = Object.keys(outputs).find((path) => outputs[path]?.entryPoint?.endsWith('src/app.ts'));
  // The entry script and, transitively, the chunks it imports statically load with the page.
  const initial = new Set<string>();
  const visit = (path: string | undefined) => {
    if (!path || initial.has(urlOf(path))) return;
    initial.add(urlOf(path));
    for (const imported of outputs[path]?.imports ?? [])
      if (imported.kind === 'import-statement') visit(imported.path);
  };
  visit(entry);
  const assets = result.outputFiles.map((output) => {
    const path = output.path.slice(outDir.length).replaceAll('\\', '/');
    return file(path, Buffer.from(output.contents), true, !path.endsWith('.js') || initial.has(path));
  });
  const script = assets.find((asset) => entry !== undefined && asset.path === urlOf(entry));
  const style = assets.find((asset) => asset.path.endsWith('.css'));
  if (!script || !style) throw new Error('the dashboard build produced no script or no stylesheet');
  const html = readFileSync(join(root, 'index.html'), 'utf8')
    .replace('/assets/app.css', style.path)
    .replace('/assets/app.js', script.path);
  return [file('/index.html', Buffer.from(html), false), ...assets];
}

/**
 * Writes a build to `dashboard/dist/<content hash>/` and answers that folder (the CDK stack deploys it).
 * Concurrent syntheses (parallel test files) each write to a private temporary folder and rename it into
 * place, so none ever reads a half-written build; older builds are removed.
 */
export function writeDashboard(distDir: string = DASHBOARD_DIST): {
  directory: string;
  files: DashboardFile[];
} {
  const files = buildDashboard();
  const hash = createHash('sha256');
  for (const built of files) hash.update(built.path).update(built.body);
  const name = hash.digest('hex').slice(0, 16);
  const directory = join(distDir, name);
  if (!existsSync(directory)) {
    mkdirSync(distDir, { recursive: true });
    const staging = mkdtempSync(join(distDir, '.staging-'));
    for (const built of files) {
      const target = join(staging, built.path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, built.body);
    }
    try {
      renameSync(staging, directory);
    } catch {
      // Another synthesis renamed the same build into place first.
      rmSync(staging, { recursive: true, force: true });
    }
  }
  for (const entry of readdirSync(distDir)) {
    if (entry !== name && !entry.startsWith('.staging-'))
      rmSync(join(distDir, entry), { recursive: true, force: true });
  }
  return { directory, files };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { directory, files } = writeDashboard();
  for (const built of files) {
    console.log(`${built.path}  ${built.body.length} B, ${built.gzip.length} B gzip`);
  }
  const total = files.reduce((sum, built) => sum + built.gzip.length, 0);
  console.log(`${directory}: ${files.length} files, ${total} B gzip in all`);
}
