/* global performance, setInterval, clearInterval */
// The timed part of bench/recon.ts, in a process of its own running the JavaScript build in dist/
// (as `paycore reconcile` does): its peak RSS is the reconciliation's, not the benchmark's setup's
// nor the TypeScript loader's. Arguments: one JSON object (engine, schema, file URL, size, SHA-256,
// day). Prints one JSON line: the times of each step, the RSS before and the peak (VmHWM).
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { Writable } from "node:stream";

const job = JSON.parse(process.argv[2]);
const dist = new URL("../dist/", import.meta.url);
const load = (path) => import(new URL(path, dist).href);
const { downloadStatement } = await load("channels/statement-download.js");
const { DEFAULT_SETTINGS } = await load("context.js");
const { connect } = await load("db/index.js");
const { ManualClock } = await load("kernel/clock.js");
const { SecretBox } = await load("kernel/crypto/index.js");
const { createLogger } = await load("kernel/log.js");
const { createChannelRegistry } = await load("payments/channel-registry.js");
const { HttpSmsGateway } = await load("agreements/sms.js");
const { runReconciliation } = await load("reconciliation/index.js");

const rss_mb = () => process.memoryUsage.rss() / 1024 / 1024;
const hwm_mb = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))[1]) / 1024;

const handle = await connect({ database_url: job.database_url, data_dir: job.data_dir, schema: job.schema });
const clock = new ManualClock(job.now);
const ctx = { db: handle.db, clock, box: new SecretBox(randomBytes(32)), log: createLogger("warn", new Writable({ write: (_c, _e, done) => done() })), settings: DEFAULT_SETTINGS };
const deps = { ctx, channels: createChannelRegistry(ctx, { data_dir: job.dir, sandbox_url: null }), sms: new HttpSmsGateway("http://127.0.0.1:9"), sandbox_url: null };
const rss_before = rss_mb();
// Where the peak comes from: the largest V8 heap and off-heap (Buffers) seen, sampled.
const peaks = { heap_total_mb: 0, external_mb: 0 };
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  peaks.heap_total_mb = Math.max(peaks.heap_total_mb, m.heapTotal / 1048576);
  peaks.external_mb = Math.max(peaks.external_mb, m.external / 1048576);
}, 100);
const phases = {};
const t0 = performance.now();
const downloaded = await downloadStatement("netsunion", job.url, { bytes: job.bytes, sha256: job.sha256 });
if ("status" in downloaded) throw new Error(`download refused: ${downloaded.message}`);
const t_download = performance.now();
const { run } = await runReconciliation(deps, {
  channel_id: "netsunion", date: job.date, auto_resolve: false, settlement_source: null,
  file: { sha256: downloaded.sha256, records: downloaded.records(), dispose: () => downloaded.dispose() },
  progress: (phase) => (phases[phase] ??= performance.now() - t0),
});
const t_end = performance.now();
clearInterval(sampler);
await handle.close();
console.log(JSON.stringify({
  reconciliation_id: run.reconciliation_id, download_ms: t_download - t0, total_ms: t_end - t0, phases,
  rss_before_mb: rss_before, rss_peak_mb: hwm_mb(), ...peaks,
}));
