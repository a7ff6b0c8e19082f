// Bundles the webhook's worker thread (app/billing/webhook-worker.server.ts)
// beside the server build, as build/webhook-worker.js: the app's own modules
// inlined, packages left to node_modules as in build/index.js.
import { build } from "esbuild";

await build({
  entryPoints: ["app/billing/webhook-worker.server.ts"],
  outfile: "build/webhook-worker.js",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  logLevel: "warning",
  plugins: [
    {
      name: "packages-stay-external",
      setup(bundle) {
        // Anything but a relative path or the app's "~/" alias is a package
        // (or a Node built-in).
        bundle.onResolve({ filter: /^[^./~]/ }, (args) => ({
          path: args.path,
          external: true,
        }));
      },
    },
  ],
});
