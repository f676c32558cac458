import * as echarts from "echarts/core";
import { BarChart, LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";
import { useEffect, useRef, useState } from "react";
import { api, query, type Page } from "../api.ts";
import { useT } from "../i18n.ts";
import { toFen, yuan } from "../money.ts";
import { Err } from "./common.tsx";

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

interface P {
  payment_id: string;
  amount: number;
  fee: number | null;
  status: string;
  channel: string | null;
  created_at: string;
  refunded_amount: number;
}

const PAGES_MAX = 20;

/** Payments of the period, newest first, through the cursors (bounded: PAGES_MAX pages of 100). */
async function paymentsSince(since_ms: number): Promise<P[]> {
  const out: P[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < PAGES_MAX; i++) {
    const res = await api<Page<P>>("GET", "/admin/v1/payments" + query({ limit: 100, cursor }));
    for (const p of res.body.data) if (Date.parse(p.created_at) >= since_ms) out.push(p);
    const last = res.body.data.at(-1);
    if (!res.body.next_cursor || (last && Date.parse(last.created_at) < since_ms)) break;
    cursor = res.body.next_cursor;
  }
  return out;
}

export function Overview() {
  const t = useT();
  const [hours, setHours] = useState(24);
  const [rows, setRows] = useState<P[] | null>(null);
  const [error, setError] = useState("");
  const chart = useRef<HTMLDivElement>(null);
  useEffect(() => {
    paymentsSince(Date.now() - hours * 3_600_000).then(setRows, (e: Error) => setError(e.message));
  }, [hours]);
  useEffect(() => {
    if (!rows || !chart.current) return;
    const instance = echarts.init(chart.current);
    const start = Date.now() - hours * 3_600_000;
    const step = hours <= 24 ? 3_600_000 : 6 * 3_600_000;
    const buckets = Math.ceil((hours * 3_600_000) / step);
    const labels = Array.from({ length: buckets }, (_, i) => new Date(start + i * step).toLocaleString([], { month: "2-digit", day: "2-digit", hour: "2-digit" }));
    const networks = [...new Set(rows.map((r) => r.channel ?? "none"))];
    const counts = new Map(networks.map((n) => [n, new Array<number>(buckets).fill(0)]));
    const volume = new Array<bigint>(buckets).fill(0n);
    for (const r of rows) {
      const b = Math.min(buckets - 1, Math.floor((Date.parse(r.created_at) - start) / step));
      if (b < 0) continue;
      counts.get(r.channel ?? "none")![b]! += 1;
      if (r.status === "succeeded") volume[b] = volume[b]! + toFen(r.amount);
    }
    instance.setOption({
      tooltip: { trigger: "axis" },
      legend: {},
      xAxis: { type: "category", data: labels },
      yAxis: [{ type: "value", name: t("count") }, { type: "value", name: t("volume") }],
      series: [
        ...networks.map((n) => ({ name: n, type: "bar", stack: "count", data: counts.get(n) })),
        // Summed in BigInt fen; only the plotted point becomes a number of yuan.
        { name: t("volume"), type: "line", yAxisIndex: 1, data: volume.map((v) => Number(v / 100n)) },
      ],
    });
    return () => instance.dispose();
  }, [rows, hours, t]);
  const ok = rows?.filter((r) => r.status === "succeeded") ?? [];
  const final = rows?.filter((r) => r.status !== "processing").length ?? 0;
  const sum = (f: (r: P) => number | null) => ok.reduce((a, r) => a + toFen(f(r) ?? 0), 0n);
  return (
    <section>
      <div className="row">
        <label>
          {t("period")}{" "}
          <select id="period" value={hours} onChange={(e) => setHours(Number(e.target.value))}>
            <option value={24}>{t("last24h")}</option>
            <option value={168}>{t("last7d")}</option>
          </select>
        </label>
      </div>
      <Err error={error} />
      <div className="card stats" id="stats">
        <div>{t("count")}<strong>{rows?.length ?? "…"}</strong></div>
        <div>{t("volume")}<strong>{yuan(sum((r) => r.amount))}</strong></div>
        <div>{t("success_rate")}<strong>{final ? `${((ok.length * 1000) / final / 10).toFixed(1)}%` : "—"}</strong></div>
        <div>{t("fees")}<strong>{yuan(sum((r) => r.fee))}</strong></div>
        <div>{t("refunds")}<strong>{yuan(sum((r) => r.refunded_amount))}</strong></div>
      </div>
      <div className="card"><div ref={chart} className="chart" id="overview-chart" /></div>
    </section>
  );
}
