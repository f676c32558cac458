import * as echarts from "echarts/core";
import { BarChart, LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";
import { useContext, useEffect, useMemo, useRef, useState } from "react";
import { api, query } from "../api.ts";
import { LangContext, useT, type Key } from "../i18n.ts";
import { toFen, yuan } from "../money.ts";
import { Err } from "./common.tsx";

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

/** GET /admin/v1/stats/overview: summed by the database, amounts in integer fen. */
interface PaymentSums {
  count: number;
  succeeded_count: number;
  failed_count: number;
  alert_count: number;
  succeeded_amount: number;
  fee_amount: number;
  network_cost_amount: number;
}
interface Stats {
  bucket: "hour" | "day";
  bucket_starts: string[];
  payments: (PaymentSums & { bucket_start: string; network: string | null })[];
  refunds: { bucket_start: string; network: string; count: number; succeeded_amount: number }[];
  payouts: { bucket_start: string; rail: string | null; status: string; count: number; amount: number; fee_amount: number }[];
  risk_alerts: { bucket_start: string; count: number }[];
  totals: {
    payments: PaymentSums;
    refunds: { count: number; succeeded_count: number; succeeded_amount: number };
    by_network: (PaymentSums & { network: string | null; refund_count: number; refunded_amount: number })[];
    payouts: { rail: string | null; status: string; count: number; amount: number; fee_amount: number }[];
    risk_alerts: number;
  };
  open: { risk_alerts: number; reconciliation_exceptions: number; payment_alerts: number; payout_alerts: number };
}

type Bucket = "hour" | "day";
interface Period {
  from: Date;
  to: Date;
  bucket: Bucket;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** The API's bounds (src/stats/limits.ts): 93 days, 744 buckets (31 days of hours). */
const SPAN_DAYS_MAX = 93;
const HOUR_BUCKETS_DAYS_MAX = 31;

const autoBucket = (from: Date, to: Date): Bucket => (to.getTime() - from.getTime() <= 7 * DAY_MS ? "hour" : "day");

/** The last `hours`, ending at the next whole hour (local time). */
function preset(hours: number): Period {
  const to = new Date();
  to.setMinutes(0, 0, 0);
  to.setTime(to.getTime() + HOUR_MS);
  const from = new Date(to.getTime() - hours * HOUR_MS);
  return { from, to, bucket: autoBucket(from, to) };
}

/** "2026-12-01" as the local midnight starting that day. */
const localDay = (text: string): Date | null => {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  return m ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : null;
};
const dayText = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;

/** For the chart only: the yuan string (BigInt arithmetic) read as a number to plot. */
const plotYuan = (fen: bigint) => Number(yuan(fen).replace(/[¥,]/g, ""));

const percent = (ok: number, final: number) => (final ? `${((ok * 1000) / final / 10).toFixed(1)}%` : "—");

function label(iso: string, bucket: Bucket): string {
  const d = new Date(iso);
  const md = `${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  return bucket === "day" ? md : `${md} ${String(d.getHours()).padStart(2, "0")}:00`;
}

/** Per series name, one value per bucket (0 where the database had no row). */
function perBucket<R extends { bucket_start: string }>(s: Stats, rows: R[], name: (r: R) => string, value: (r: R) => bigint): Map<string, bigint[]> {
  const index = new Map(s.bucket_starts.map((b, i) => [b, i]));
  const out = new Map<string, bigint[]>();
  for (const r of rows) {
    const i = index.get(new Date(r.bucket_start).toISOString());
    if (i === undefined) continue;
    const key = name(r);
    if (!out.has(key)) out.set(key, new Array<bigint>(s.bucket_starts.length).fill(0n));
    out.get(key)![i]! += value(r);
  }
  return out;
}

function useChart(ref: React.RefObject<HTMLDivElement | null>, option: echarts.EChartsCoreOption | null) {
  useEffect(() => {
    if (!option || !ref.current) return;
    const instance = echarts.init(ref.current);
    instance.setOption(option);
    return () => instance.dispose();
  }, [ref, option]);
}

function chartOptions(s: Stats, t: (k: Key) => string): [echarts.EChartsCoreOption, echarts.EChartsCoreOption] {
  const labels = s.bucket_starts.map((b) => label(b, s.bucket));
  const network = (r: { network: string | null }) => r.network ?? t("none");
  const counts = perBucket(s, s.payments, network, (r) => BigInt(r.count));
  const alerts = perBucket(s, s.risk_alerts, () => t("alerts"), (r) => BigInt(r.count));
  const volume = perBucket(s, s.payments, network, (r) => toFen(r.succeeded_amount));
  const refunds = perBucket(s, s.refunds, () => t("refunds"), (r) => toFen(r.succeeded_amount));
  const payouts = perBucket(s, s.payouts, () => t("payouts"), (r) => toFen(r.amount));
  const base = { tooltip: { trigger: "axis" }, legend: {}, xAxis: { type: "category", data: labels } };
  const countChart = {
    ...base,
    yAxis: { type: "value", name: t("count"), minInterval: 1 },
    series: [
      ...[...counts].map(([name, data]) => ({ name, type: "bar", stack: "count", data: data.map(Number) })),
      ...[...alerts].map(([name, data]) => ({ name, type: "line", data: data.map(Number) })),
    ],
  };
  const amountChart = {
    ...base,
    yAxis: { type: "value", name: t("amount_yuan") },
    series: [...volume, ...refunds, ...payouts].map(([name, data]) => ({ name, type: "line", data: data.map(plotYuan) })),
  };
  return [countChart, amountChart];
}

function PeriodPicker({ period, onChange }: { period: Period; onChange: (p: Period) => void }) {
  const t = useT();
  const [from, setFrom] = useState(dayText(period.from));
  const [to, setTo] = useState(dayText(new Date(period.to.getTime() - 1)));
  const [error, setError] = useState("");
  useEffect(() => {
    setFrom(dayText(period.from));
    setTo(dayText(new Date(period.to.getTime() - 1)));
  }, [period]);
  const apply = () => {
    const start = localDay(from);
    const last = localDay(to);
    if (!start || !last || last < start) return setError(t("bad_period"));
    const end = new Date(last.getFullYear(), last.getMonth(), last.getDate() + 1);
    if (end.getTime() - start.getTime() > SPAN_DAYS_MAX * DAY_MS) return setError(t("period_too_long"));
    setError("");
    onChange({ from: start, to: end, bucket: autoBucket(start, end) });
  };
  const hours_allowed = period.to.getTime() - period.from.getTime() <= HOUR_BUCKETS_DAYS_MAX * DAY_MS;
  return (
    <div className="row">
      {t("period")}
      <button id="preset-24h" onClick={() => onChange(preset(24))}>{t("last24h")}</button>
      <button id="preset-7d" onClick={() => onChange(preset(7 * 24))}>{t("last7d")}</button>
      <button id="preset-30d" onClick={() => onChange(preset(30 * 24))}>{t("last30d")}</button>
      <label>{t("from")} <input id="from-date" type="date" value={from} onChange={(e) => setFrom(e.target.value)} /></label>
      <label>{t("to")} <input id="to-date" type="date" value={to} onChange={(e) => setTo(e.target.value)} /></label>
      <button id="apply-period" onClick={apply}>{t("search")}</button>
      <select id="bucket" value={period.bucket} onChange={(e) => onChange({ ...period, bucket: e.target.value as Bucket })}>
        <option value="hour" disabled={!hours_allowed}>{t("per_hour")}</option>
        <option value="day">{t("per_day")}</option>
      </select>
      <Err error={error} />
    </div>
  );
}

function Figures({ s }: { s: Stats }) {
  const t = useT();
  const p = s.totals.payments;
  const payouts_ok = s.totals.payouts.filter((x) => x.status === "succeeded");
  const open = s.open.risk_alerts + s.open.reconciliation_exceptions + s.open.payment_alerts + s.open.payout_alerts;
  return (
    <div className="card stats" id="stats">
      <div>{t("count")}<strong>{p.count}</strong></div>
      <div>{t("volume")}<strong id="stat-volume">{yuan(p.succeeded_amount)}</strong></div>
      <div>{t("success_rate")}<strong id="stat-success">{percent(p.succeeded_count, p.succeeded_count + p.failed_count)}</strong></div>
      <div>{t("fees")}<strong id="stat-fees">{yuan(p.fee_amount)}</strong></div>
      <div>{t("refunds")}<strong id="stat-refunds">{yuan(s.totals.refunds.succeeded_amount)}</strong>{s.totals.refunds.count}</div>
      <div>{t("payouts_succeeded")}<strong id="stat-payouts">{yuan(payouts_ok.reduce((a, x) => a + toFen(x.amount), 0n))}</strong>{s.totals.payouts.reduce((a, x) => a + x.count, 0)}</div>
      <div>{t("open_alerts")}<strong id="stat-alerts">{open}</strong>{t("raised")} {s.totals.risk_alerts}</div>
    </div>
  );
}

function NetworkTable({ s }: { s: Stats }) {
  const t = useT();
  return (
    <table id="by-network">
      <thead><tr><th>{t("channel")}</th><th>{t("count")}</th><th>{t("success_rate")}</th><th>{t("volume")}</th><th>{t("fees")}</th><th>{t("network_cost")}</th><th>{t("refunds")}</th></tr></thead>
      <tbody>
        {s.totals.by_network.map((n) => (
          <tr key={n.network ?? ""} data-network={n.network ?? ""}>
            <td>{n.network ?? t("none")}</td><td className="count">{n.count}</td><td>{percent(n.succeeded_count, n.succeeded_count + n.failed_count)}</td>
            <td className="volume">{yuan(n.succeeded_amount)}</td><td>{yuan(n.fee_amount)}</td><td>{yuan(n.network_cost_amount)}</td><td className="refunded">{n.refund_count} / {yuan(n.refunded_amount)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function PayoutsAndAlerts({ s }: { s: Stats }) {
  const t = useT();
  return (
    <div className="row">
      <table id="payouts-by-rail">
        <thead><tr><th>{t("rails")}</th><th>{t("status")}</th><th>{t("count")}</th><th>{t("amount")}</th><th>{t("fees")}</th></tr></thead>
        <tbody>
          {s.totals.payouts.map((x) => (
            <tr key={`${x.rail}/${x.status}`} data-rail={x.rail ?? ""} data-status={x.status}>
              <td>{x.rail ?? t("none")}</td><td>{x.status}</td><td>{x.count}</td><td className="amount">{yuan(x.amount)}</td><td>{yuan(x.fee_amount)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <table id="open-alerts">
        <tbody>
          <tr><td>{t("risk_alerts_open")}</td><td id="open-risk">{s.open.risk_alerts}</td></tr>
          <tr><td>{t("exceptions_open")}</td><td id="open-exceptions">{s.open.reconciliation_exceptions}</td></tr>
          <tr><td>{t("payment_alerts")}</td><td id="open-payments">{s.open.payment_alerts}</td></tr>
          <tr><td>{t("payout_alerts")}</td><td id="open-payouts">{s.open.payout_alerts}</td></tr>
        </tbody>
      </table>
    </div>
  );
}

export function Overview() {
  const t = useT();
  const [period, setPeriod] = useState<Period>(() => preset(24));
  const [stats, setStats] = useState<Stats | null>(null);
  const [error, setError] = useState("");
  const counts = useRef<HTMLDivElement>(null);
  const amounts = useRef<HTMLDivElement>(null);
  useEffect(() => {
    setStats(null);
    const q = query({ from: period.from.toISOString(), to: period.to.toISOString(), bucket: period.bucket });
    api<Stats>("GET", "/admin/v1/stats/overview" + q).then((r) => (setError(""), setStats(r.body)), (e: Error) => setError(e.message));
  }, [period]);
  const lang = useContext(LangContext);
  // t follows the language: the options change with the stats or the language.
  const [countOption, amountOption] = useMemo(() => (stats ? chartOptions(stats, t) : [null, null]), [stats, lang]);
  useChart(counts, countOption);
  useChart(amounts, amountOption);
  return (
    <section>
      <PeriodPicker period={period} onChange={setPeriod} />
      <Err error={error} />
      {stats ? <Figures s={stats} /> : <div className="card">{t("loading")}</div>}
      <div className="card"><div ref={counts} className="chart" id="overview-chart" /></div>
      <div className="card"><div ref={amounts} className="chart" id="amount-chart" /></div>
      {stats && <div className="card"><NetworkTable s={stats} /></div>}
      {stats && <div className="card"><PayoutsAndAlerts s={stats} /></div>}
    </section>
  );
}
