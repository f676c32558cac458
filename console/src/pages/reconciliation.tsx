import { useEffect, useRef, useState } from "react";
import { api, query, type Page } from "../api.ts";
import { useT, type Key } from "../i18n.ts";
import { useCan } from "../session.ts";
import { yuan } from "../money.ts";
import { Err, More, ProgressBar, useCursorList, usePoll, when } from "./common.tsx";

/** GET /admin/v1/reconciliations: one channel and network day (amounts are integer fen). */
export interface Run {
  reconciliation_id: string;
  channel: string;
  date: string;
  status: "running" | "done";
  counts: Record<string, number>;
  line_count: number;
  file_net: number | string;
  run_count: number;
  settled_amount: number | string | null;
  open_exceptions: number;
  started_at: string;
  finished_at: string | null;
  /** The current or last attempt, written on the run's row by whichever process runs it. */
  progress: { phase: string | null; done: number; total: number | null; updated_at: string | null };
  error: string | null;
}

/** The phases a run goes through once it holds its day; loading has no total until the file's last line. */
const STEPS = ["loading", "matching", "resolving", "settling", "done"] as const;

function RunProgressBar({ run }: { run: Pick<Run, "status" | "progress" | "error" | "line_count"> }) {
  const t = useT();
  const p = run.progress;
  if (run.error) return <ProgressBar phase="failed" value={0} max={1} detail={run.error} failed />;
  if (p.phase === null) return <ProgressBar phase={run.status === "done" ? "done" : "running"} value={run.status === "done" ? 1 : 0} max={1} detail={`${t("lines")} ${run.line_count}`} />;
  if (p.phase === "loading") return <ProgressBar phase="loading" value={p.done} max={null} detail={`${t("lines")} ${p.done}`} />;
  const step = STEPS.indexOf(p.phase as (typeof STEPS)[number]);
  return <ProgressBar phase={p.phase} value={Math.max(step, 0)} max={STEPS.length - 1} detail={`${t("lines")} ${p.done}${p.total === null ? "" : `/${p.total}`}`} />;
}

interface Exception {
  exception_id: string;
  kind: string;
  channel: string;
  date: string;
  payment_id: string | null;
  refund_id: string | null;
  payout_id: string | null;
  network_txn_id: string | null;
  platform_amount: number | string | null;
  network_amount: number | string | null;
  platform_fee: number | string | null;
  network_fee: number | string | null;
  platform_status: string | null;
  status: "buffered" | "open" | "resolved";
  resolution: string | null;
  resolution_note: string | null;
  resolved_by: string | null;
  pending_action: string | null;
  proposal_id: string | null;
}

interface Setting {
  channel_id: string;
  enabled: boolean;
  write_off_four_eyes_min: number | string;
}

const KINDS = ["network_only", "platform_only", "amount_mismatch", "status_mismatch", "fee_mismatch"] as const;
const ACTIONS = ["accept_network", "refund", "write_off", "requery"] as const;
type Action = (typeof ACTIONS)[number];
const POLL_MS = 500;
/** The network's day as paycore counts it by default: the calendar day in Beijing time. */
const beijingToday = () => new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);

export function Reconciliation() {
  const t = useT();
  const [settings, setSettings] = useState<Setting[]>([]);
  const [filter, setFilter] = useState({ status: "open", kind: "", channel: "", date: "" });
  const runs = useCursorList<Run>("/admin/v1/reconciliations", {});
  const exceptions = useCursorList<Exception>("/admin/v1/reconciliation-exceptions", blankless(filter));
  const alerts = useCursorList<Record<string, string | number>>("/admin/v1/reconciliation-alerts", {});
  const [error, setError] = useState("");
  useEffect(() => void api<{ data: Setting[] }>("GET", "/admin/v1/reconciliation-settings").then((r) => setSettings(r.body.data), (e: Error) => setError(e.message)), []);
  const refresh = () => (runs.reload(), exceptions.reload(), alerts.reload());
  // A run under way (started here, by the schedule, the CLI or another process) is read again until it is done.
  usePoll(runs.rows.some((r) => r.status === "running" && !r.error), runs.reload, POLL_MS * 2);
  return (
    <section>
      <RunForm channels={settings.map((s) => s.channel_id)} onDone={refresh} />
      <Err error={error || runs.error} />
      <h3>{t("runs")}</h3>
      <RunsTable runs={runs.rows} pick={(r) => setFilter({ ...filter, channel: r.channel, date: r.date, status: "" })} />
      <More more={runs.more} loading={runs.loading} />
      <h3>{t("exceptions")}</h3>
      <p className="muted" id="write-off-threshold">
        {settings.map((s) => `${s.channel_id}: ${t("write_off_four_eyes")} ${yuan(s.write_off_four_eyes_min)}`).join(" · ")}
      </p>
      <ExceptionFilter filter={filter} channels={settings.map((s) => s.channel_id)} set={setFilter} />
      <Err error={exceptions.error} />
      <ExceptionTable rows={exceptions.rows} onChanged={refresh} />
      <More more={exceptions.more} loading={exceptions.loading} />
      <h3>{t("recon_alerts")}</h3>
      <table id="recon-alerts">
        <tbody>
          {alerts.rows.map((a) => (
            <tr key={String(a.alert_id)}><td>{String(a.channel)}</td><td>{String(a.date)}</td><td>{String(a.kind)}</td><td>{String(a.message)}</td><td className="num">{String(a.occurrences)}</td><td>{when(String(a.updated_at))}</td></tr>
          ))}
        </tbody>
      </table>
      {alerts.rows.length === 0 && !alerts.loading && <p className="muted">{t("none")}</p>}
    </section>
  );
}

const blankless = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== ""));

/** Runs a channel's day and, while the request runs, polls the run's row for its state and lines. */
function RunForm({ channels, onDone }: { channels: string[]; onDone: () => void }) {
  const t = useT();
  const can = useCan();
  const [channel, setChannel] = useState("");
  const [date, setDate] = useState(beijingToday());
  const [state, setState] = useState<{ running: boolean; text: string; live?: Run }>({ running: false, text: "" });
  const [error, setError] = useState("");
  const poll = useRef<ReturnType<typeof setInterval> | null>(null);
  useEffect(() => () => void (poll.current && clearInterval(poll.current)), []);
  const chosen = channel || channels[0] || "";
  const run = async () => {
    setError("");
    setState({ running: true, text: t("running") });
    poll.current = setInterval(() => {
      void api<Page<Run>>("GET", "/admin/v1/reconciliations" + query({ channel: chosen, date, limit: 1 })).then((r) => {
        const row = r.body.data[0];
        if (row?.status === "running") setState({ running: true, text: t("running"), live: row });
      }, () => {});
    }, POLL_MS);
    try {
      const res = await api<Run>("POST", "/admin/v1/reconciliations", { channel: chosen, date });
      const r = res.body;
      setState({ running: false, text: `${t("done")}: ${r.channel} ${r.date} · ${t("lines")} ${r.line_count} · ${t("matched")} ${r.counts.matched ?? 0} · ${t("open")} ${r.open_exceptions}` });
      onDone();
    } catch (err) {
      setState({ running: false, text: "" });
      setError((err as Error).message);
    } finally {
      if (poll.current) clearInterval(poll.current);
      poll.current = null;
    }
  };
  if (!can("POST /admin/v1/reconciliations")) return null;
  return (
    <div className="row card" id="recon-run">
      <select id="recon-channel" value={chosen} onChange={(e) => setChannel(e.target.value)}>
        {channels.map((c) => <option key={c} value={c}>{c}</option>)}
      </select>
      <input id="recon-date" type="date" value={date} onChange={(e) => setDate(e.target.value)} />
      <button id="run-reconciliation" disabled={state.running || !chosen} onClick={() => void run()}>{t("run_reconciliation")}</button>
      {state.running && <span id="recon-progress">{state.live ? <RunProgressBar run={state.live} /> : <progress />}</span>}
      <span className="progress" id="recon-state">{state.text}</span>
      <Err error={error} />
    </div>
  );
}

function RunsTable({ runs, pick }: { runs: Run[]; pick: (r: Run) => void }) {
  const t = useT();
  return (
    <table id="recon-runs">
      <thead>
        <tr>
          <th>{t("channel")}</th><th>{t("date")}</th><th>{t("status")}</th><th>{t("progress")}</th><th className="num">{t("lines")}</th><th className="num">{t("matched")}</th>
          {KINDS.map((k) => <th key={k} className="num">{t(`kind_${k}`)}</th>)}
          <th className="num">{t("buffered")}</th><th className="num">{t("open")}</th><th className="num">{t("file_net")}</th><th className="num">{t("settled")}</th><th>{t("time")}</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.reconciliation_id} className="recon-run" data-run={`${r.channel}/${r.date}`} onClick={() => pick(r)}>
            <td><a href="#" onClick={(e) => e.preventDefault()}>{r.channel}</a></td><td>{r.date}</td><td className="run-status">{r.status}</td><td><RunProgressBar run={r} /></td><td className="num">{r.line_count}</td>
            <td className="num">{r.counts.matched ?? 0}</td>
            {KINDS.map((k) => <td key={k} className="num">{r.counts[k] ?? 0}</td>)}
            <td className="num">{r.counts.buffered ?? 0}</td><td className="num run-open">{r.open_exceptions}</td><td className="num">{yuan(r.file_net)}</td><td className="num">{yuan(r.settled_amount)}</td>
            <td>{when(r.finished_at ?? r.started_at)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ExceptionFilter({ filter, channels, set }: { filter: Record<"status" | "kind" | "channel" | "date", string>; channels: string[]; set: (f: typeof filter) => void }) {
  const t = useT();
  return (
    <div className="row" id="exception-filter">
      <select id="exc-status" value={filter.status} onChange={(e) => set({ ...filter, status: e.target.value })}>
        <option value="">{t("all")}</option>
        {(["open", "resolved", "buffered"] as const).map((s) => <option key={s} value={s}>{t(s)}</option>)}
      </select>
      <select id="exc-kind" value={filter.kind} onChange={(e) => set({ ...filter, kind: e.target.value })}>
        <option value="">{t("all")}</option>
        {KINDS.map((k) => <option key={k} value={k}>{t(`kind_${k}`)}</option>)}
      </select>
      <select id="exc-channel" value={filter.channel} onChange={(e) => set({ ...filter, channel: e.target.value })}>
        <option value="">{t("all")}</option>
        {channels.map((c) => <option key={c} value={c}>{c}</option>)}
      </select>
      <input id="exc-date" type="date" value={filter.date} onChange={(e) => set({ ...filter, date: e.target.value })} />
    </div>
  );
}

function ExceptionTable({ rows, onChanged }: { rows: Exception[]; onChanged: () => void }) {
  const t = useT();
  return (
    <table id="exceptions">
      <thead>
        <tr>
          <th>ID</th><th>{t("kind")}</th><th>{t("channel")}</th><th>{t("date")}</th><th>{t("record")}</th>
          <th className="num">{t("platform_side")}</th><th className="num">{t("network_side")}</th><th>{t("status")}</th><th>{t("result")}</th><th>{t("action")}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((e) => (
          <tr key={e.exception_id} className="exception" data-exception={e.exception_id} data-kind={e.kind} data-status={e.status}>
            <td><code>{e.exception_id}</code></td><td>{t(`kind_${e.kind}` as Key)}</td><td>{e.channel}</td><td>{e.date}</td>
            <td>{e.payment_id ?? e.refund_id ?? e.payout_id ?? e.network_txn_id ?? "—"}{e.platform_status ? ` (${e.platform_status})` : ""}</td>
            <td className="num">{yuan(e.platform_amount)}<br /><span className="muted">{t("fees")} {yuan(e.platform_fee)}</span></td>
            <td className="num">{yuan(e.network_amount)}<br /><span className="muted">{t("fees")} {yuan(e.network_fee)}</span></td>
            <td className="exc-status">{t(e.status)}{e.pending_action ? ` · ${t("pending_action")} ${e.pending_action}${e.proposal_id ? ` (${e.proposal_id})` : ""}` : ""}</td>
            <td className="exc-resolution">{e.resolution ? `${(ACTIONS as readonly string[]).includes(e.resolution) ? t(e.resolution as Action) : e.resolution}: ${e.resolution_note ?? ""} (${e.resolved_by ?? ""})` : "—"}</td>
            <td>{e.status === "open" && <ExceptionActions e={e} onChanged={onChanged} />}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The four actions, each with a note; a write-off above the channel's threshold answers 202 (a proposal). */
function ExceptionActions({ e, onChanged }: { e: Exception; onChanged: () => void }) {
  const t = useT();
  const can = useCan();
  const [action, setAction] = useState<Action>(e.kind === "network_only" || e.kind === "fee_mismatch" ? "accept_network" : e.kind === "status_mismatch" ? "requery" : "write_off");
  const [note, setNote] = useState("");
  const [msg, setMsg] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  if (!can("POST /admin/v1/reconciliation-exceptions/:exception_id/resolve")) return null;
  const resolve = async () => {
    if (!note.trim()) return setError(`${t("note")}: ?`);
    setBusy(true);
    setError("");
    try {
      const res = await api<Exception>("POST", `/admin/v1/reconciliation-exceptions/${e.exception_id}/resolve`, { action, note: note.trim() });
      setMsg(res.status === 202 ? `${t("proposed")}${res.body.proposal_id ? ` (${res.body.proposal_id})` : ""}` : t("done"));
      onChanged();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="exc-actions" onSubmit={(ev) => (ev.preventDefault(), void resolve())}>
      <select name="action" value={action} onChange={(ev) => setAction(ev.target.value as Action)}>
        {ACTIONS.map((a) => <option key={a} value={a}>{t(a)}</option>)}
      </select>{" "}
      <input name="note" placeholder={t("note")} value={note} maxLength={500} onChange={(ev) => setNote(ev.target.value)} />{" "}
      <button type="submit" className="resolve" disabled={busy}>{busy ? t("running") : t("submit")}</button>
      {msg && <span className="ok exc-msg"> {msg}</span>}
      <Err error={error} />
    </form>
  );
}
