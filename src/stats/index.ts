export { STATS_LIMITS, BUCKET_SECONDS, type Bucket } from "./limits.ts";
export { overviewStats, type OverviewStats, type OverviewPeriod } from "./overview.ts";
