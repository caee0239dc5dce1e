// Incremental (page) copies, in a worker, loaded only by the workers that copy off-site: the upload of a backup's
// changed pages (pages/upload), the rebuild of a backup from its manifest and packs (pages/rebuild), and the
// collection of packs no kept manifest names (pages/gc).
export {
  type BucketUsage,
  type BucketUsageArgs,
  offsiteBucketUsage,
  offsitePagesGc,
  type PagesGcArgs,
  type PagesGcResult,
} from "./pages/gc.js";
export { offsitePagesRebuild, type PagesRebuildArgs } from "./pages/rebuild.js";
export { offsitePagesUpload, type PagesUploadArgs, REPACK, type RepackPolicy } from "./pages/upload.js";
