// Prints what @huggingface/hub's cache scanner (scanCacheDir) sees in a Hugging Face cache dir,
// as JSON on stdout: the integration tests compare it with what weightsd materialised.
//   node scan-hf-cache.mjs CACHE_DIR
// {"repos":[{"repo":"org/name","type":"model","files_count":N,"size":N,
//   "revisions":[{"revision":"<snapshot folder>","refs":["main"],"size":N,
//     "files":[{"path":"config.json","blob":"<blob name>","size":N}]}]}],
//  "warnings":["..."]}
// Lists are sorted so the output is stable. The scanner reads only a snapshot's top level (it
// does not descend into sub-folders such as original/): the tests check those themselves.
import { basename, relative } from "node:path";
import { scanCacheDir } from "@huggingface/hub";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node scan-hf-cache.mjs CACHE_DIR");
  process.exit(64);
}
const byKey = (k) => (a, b) => (a[k] < b[k] ? -1 : a[k] > b[k] ? 1 : 0);
const info = await scanCacheDir(dir);
const repos = info.repos
  .map((r) => ({
    repo: r.id.name,
    type: r.id.type,
    files_count: r.filesCount,
    size: r.size,
    revisions: r.revisions
      .map((v) => ({
        revision: v.commitOid,
        refs: [...v.refs].sort(),
        size: v.size,
        files: v.files
          .map((f) => ({
            path: relative(v.path, f.path),
            blob: basename(f.blob.path),
            size: f.blob.size,
          }))
          .sort(byKey("path")),
      }))
      .sort(byKey("revision")),
  }))
  .sort(byKey("repo"));
const warnings = info.warnings.map((w) => String(w?.message ?? w));
process.stdout.write(JSON.stringify({ repos, warnings }) + "\n");
