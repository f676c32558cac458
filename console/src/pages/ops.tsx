import { useState } from "react";
import { api } from "../api.ts";
import { useT } from "../i18n.ts";
import { useCan, useSession } from "../session.ts";
import { parseYuan, yuan } from "../money.ts";
import { Err, More, ProgressBar, useCursorList, usePoll, when } from "./common.tsx";
import { SettlementPayouts, StatementView } from "./statement.tsx";

type Row = Record<string, unknown>;
const text = (v: unknown) => (v === null || v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));

export function Proposals() {
  const t = useT();
  const list = useCursorList<Row>("/admin/v1/proposals", { status: "pending" });
  const can = useCan();
  const me = useSession();
  const [error, setError] = useState("");
  const decide = async (id: string, verdict: "approve" | "reject") => {
    setError("");
    try {
      await api("POST", `/admin/v1/proposals/${id}/${verdict}`, {});
      list.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <section>
      <Err error={list.error || error} />
      {list.rows.length === 0 && !list.loading && <p>{t("none")}</p>}
      <table id="proposals">
        <tbody>
          {list.rows.map((p) => (
            <tr key={text(p.proposal_id)} className="proposal">
              <td>{text(p.proposal_id)}</td><td>{text(p.kind)}</td><td>{text(p.summary)}</td><td>{text(p.proposed_by)}</td><td>{when(p.proposed_at as string)}</td>
              <td>
                {/* The API refuses an approval by the proposer's own token and by a role the kind does not allow; the proposer may still withdraw (reject). */}
                {can("POST /admin/v1/proposals/:proposal_id/approve") && me?.approves.includes(text(p.kind)) && p.proposed_by !== me.operator_id
                  ? <button className="approve" onClick={() => void decide(text(p.proposal_id), "approve")}>{t("approve")}</button>
                  : <span className="muted">{t("approver_only")}</span>}{" "}
                {can("POST /admin/v1/proposals/:proposal_id/reject") && <button className="reject" onClick={() => void decide(text(p.proposal_id), "reject")}>{t("reject")}</button>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <More more={list.more} loading={list.loading} />
    </section>
  );
}

interface Channel {
  channel_id: string;
  kind: "agreement" | "payout";
  display_name: string;
  enabled: boolean;
  priority: number;
  cost_bps: number;
  cost_fixed_fen: number;
  health: { calls: number; errors: number; healthy: boolean };
}

export function Channels() {
  const t = useT();
  const can = useCan();
  const list = useCursorList<Channel>("/admin/v1/channels", {});
  const [error, setError] = useState("");
  const [note, setNote] = useState("");
  const [editing, setEditing] = useState<{ channel_id: string; bps: string; fixed: string } | null>(null);
  const patch = async (channel_id: string, body: Record<string, unknown>) => {
    setError("");
    setNote("");
    try {
      const res = await api<{ proposal_id?: string }>("PATCH", `/admin/v1/channels/${channel_id}`, body);
      // Costs are four-eyes: the API answers 202 with a proposal another admin approves.
      if (res.status === 202) setNote(`${t("proposed")} (${res.body.proposal_id ?? ""})`);
      setEditing(null);
      list.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const proposeCost = () => {
    if (!editing) return;
    const fixed = parseYuan(editing.fixed);
    const bps = /^\d{1,5}$/.test(editing.bps.trim()) ? Number(editing.bps.trim()) : null;
    if (fixed === null || bps === null) return setError(`${t("cost_bps")} / ${t("cost_fixed")}: ?`);
    void patch(editing.channel_id, { cost_bps: bps, cost_fixed_fen: Number(fixed) });
  };
  const canPatch = can("PATCH /admin/v1/channels/:channel_id");
  return (
    <section>
      <Err error={list.error || error} />
      {note && <p className="ok" id="channel-note">{note}</p>}
      <table id="channels">
        <thead><tr><th>{t("channel")}</th><th>{t("kind")}</th><th>{t("enabled")}</th><th>{t("health")}</th><th className="num">{t("calls")}</th><th className="num">{t("errors")}</th><th className="num">bps</th><th className="num">{t("cost_fixed")}</th><th /></tr></thead>
        <tbody>
          {list.rows.map((c) => (
            <tr key={c.channel_id} data-channel={c.channel_id}>
              <td>{c.display_name} <code>{c.channel_id}</code></td><td>{c.kind}</td><td>{c.enabled ? t("enabled") : t("disabled")}</td>
              <td className={c.health.healthy ? "ok health" : "error health"}>{c.health.healthy ? "✓" : "✗"}</td>
              <td className="num">{c.health.calls}</td><td className="num">{c.health.errors}</td><td className="num">{c.cost_bps}</td><td className="num">{yuan(c.cost_fixed_fen)}</td>
              <td>
                {canPatch && <button className="toggle-channel" onClick={() => void patch(c.channel_id, { enabled: !c.enabled })}>{c.enabled ? t("disable") : t("enable")}</button>}{" "}
                {canPatch && <button className="edit-cost" onClick={() => setEditing({ channel_id: c.channel_id, bps: String(c.cost_bps), fixed: yuan(c.cost_fixed_fen).replace(/[¥,]/g, "") })}>{t("propose_cost")}</button>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {editing && (
        <form className="row card" id="cost-form" onSubmit={(e) => (e.preventDefault(), proposeCost())}>
          <code>{editing.channel_id}</code>
          <label>{t("cost_bps")} <input name="cost_bps" value={editing.bps} onChange={(e) => setEditing({ ...editing, bps: e.target.value })} /></label>
          <label>{t("cost_fixed")} <input name="cost_fixed" value={editing.fixed} onChange={(e) => setEditing({ ...editing, fixed: e.target.value })} /></label>
          <button type="submit">{t("propose")}</button>
        </form>
      )}
    </section>
  );
}

/** GET /admin/v1/settlements/runs: one run, from this console, another process or the CLI. */
interface SettlementRun {
  run_id: string;
  date: string;
  status: "running" | "done" | "failed";
  progress: { phase: "settle" | "payout" | "done"; done: number; total: number; updated_at: string };
  operator_id: string | null;
  records_created: number;
  payouts_created: number;
  amount_instructed: number;
  error: string | null;
  started_at: string;
  finished_at: string | null;
}

const RUN_POLL_MS = 1_000;

export function Settlement() {
  const t = useT();
  const list = useCursorList<Row>("/admin/v1/settlements", {});
  const runs = useCursorList<SettlementRun>("/admin/v1/settlements/runs", {});
  const can = useCan();
  const [date, setDate] = useState(new Date().toISOString().slice(0, 10));
  const [state, setState] = useState("");
  const [posting, setPosting] = useState(false);
  const [error, setError] = useState("");
  // While a run is under way (this page's or any other process's), its row is read again and again.
  usePoll(posting || runs.rows.some((r) => r.status === "running"), runs.reload, RUN_POLL_MS);
  const run = async () => {
    setState(t("running"));
    setError("");
    setPosting(true);
    try {
      const res = await api<{ run_id: string; records_created: number; payouts_created: number; amount_instructed: number }>("POST", "/admin/v1/settlements/run", { date });
      const b = res.body;
      setState(`${t("done")}: ${b.run_id} · ${t("records_created")} ${b.records_created} · ${t("payouts_created")} ${b.payouts_created} · ${yuan(b.amount_instructed)}`);
      list.reload();
    } catch (err) {
      setState("");
      setError((err as Error).message);
    } finally {
      setPosting(false);
      runs.reload();
    }
  };
  return (
    <section>
      <div className="row">
        <input id="settle-date" type="date" value={date} onChange={(e) => setDate(e.target.value)} />
        {can("POST /admin/v1/settlements/run") && <button id="run-settlement" disabled={posting} onClick={() => void run()}>{t("run_settlement")}</button>}
        <span className="progress" id="settle-state">{state}</span>
      </div>
      <Err error={list.error || error || runs.error} />
      <h3>{t("settlement_runs")}</h3>
      <SettlementRuns runs={runs.rows} />
      <More more={runs.more} loading={false} />
      <h3>{t("settlement")}</h3>
      <table id="settlements">
        <thead><tr><th>ID</th><th>{t("merchant")}</th><th>{t("date")}</th><th className="num">gross</th><th className="num">{t("fees")}</th><th className="num">{t("refunds")}</th><th className="num">net</th><th>{t("status")}</th></tr></thead>
        <tbody>
          {list.rows.map((s) => (
            <tr key={text(s.settlement_id)}>
              <td>{text(s.settlement_id)}</td><td>{text(s.merchant_id)}</td><td>{text(s.settlement_date ?? s.date)}</td>
              <td className="num">{yuan(s.gross as number)}</td><td className="num">{yuan(s.fees as number)}</td><td className="num">{yuan(s.refunds as number)}</td><td className="num">{yuan(s.net as number)}</td><td>{text(s.status)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <More more={list.more} loading={list.loading} />
      <SettlementPayouts />
      <StatementView />
    </section>
  );
}

function SettlementRuns({ runs }: { runs: SettlementRun[] }) {
  const t = useT();
  if (runs.length === 0) return <p className="muted">{t("none")}</p>;
  return (
    <table id="settlement-runs">
      <thead><tr><th>ID</th><th>{t("date")}</th><th>{t("status")}</th><th>{t("progress")}</th><th className="num">{t("records_created")}</th><th className="num">{t("payouts_created")}</th><th className="num">{t("amount")}</th><th>{t("operator")}</th><th>{t("time")}</th></tr></thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.run_id} className="settlement-run" data-run={r.run_id} data-status={r.status}>
            <td><code>{r.run_id}</code></td><td>{r.date}</td>
            <td className={r.status === "failed" ? "error" : ""}>{r.status === "failed" ? t("run_failed") : r.status === "done" ? t("done") : t("running")}</td>
            <td>
              <ProgressBar phase={r.status === "failed" ? "failed" : r.progress.phase} value={r.progress.done} max={r.progress.total} detail={`${r.progress.done}/${r.progress.total}`} failed={r.status === "failed"} />
              {r.error && <div className="error run-error">{r.error}</div>}
            </td>
            <td className="num">{r.records_created}</td><td className="num">{r.payouts_created}</td><td className="num">{yuan(r.amount_instructed)}</td>
            <td>{r.operator_id ?? "CLI"}</td><td>{when(r.finished_at ?? r.progress.updated_at)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Audit() {
  const t = useT();
  const list = useCursorList<Row>("/admin/v1/audit-log", {});
  return (
    <section>
      <Err error={list.error} />
      <table id="audit">
        <thead><tr><th>{t("time")}</th><th>{t("operator")}</th><th>{t("action")}</th><th>{t("target")}</th></tr></thead>
        <tbody>{list.rows.map((a) => <tr key={text(a.audit_id)}><td>{when(a.created_at as string)}</td><td>{text(a.operator_id)}</td><td>{text(a.action)}</td><td>{text(a.target_type)} {text(a.target_id)}</td></tr>)}</tbody>
      </table>
      <More more={list.more} loading={list.loading} />
    </section>
  );
}

export function Payouts() {
  const t = useT();
  const rails = useCursorList<Row>("/admin/v1/rails", {});
  const list = useCursorList<Row>("/admin/v1/payouts", {});
  return (
    <section>
      <h3>{t("rails")}</h3>
      <Err error={rails.error} />
      <table id="rails">
        <thead><tr><th>rail</th><th>{t("status")}</th><th>{t("next_open")}</th><th className="num">{t("per_item_max")}</th><th className="num">{t("fees")}</th><th>{t("enabled")}</th><th>{t("healthy")}</th></tr></thead>
        <tbody>
          {rails.rows.map((r) => (
            <tr key={text(r.rail)}>
              <td>{text(r.rail)}</td><td>{text(r.state)}</td><td>{when(r.next_open_at as string | null)}</td><td className="num">{yuan(r.per_item_max as number | null)}</td>
              <td className="num">{yuan(r.cost_per_item as number)}</td><td>{text(r.enabled)}</td><td>{text(r.healthy)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Batches />
      <h3>{t("payouts")}</h3>
      <Err error={list.error} />
      <table id="payouts">
        <thead><tr><th>ID</th><th>{t("merchant")}</th><th className="num">{t("amount")}</th><th>{t("status")}</th><th>rail</th><th>{t("route_reason")}</th><th>{t("created")}</th></tr></thead>
        <tbody>
          {list.rows.map((p) => (
            <tr key={text(p.payout_id)}>
              <td>{text(p.payout_id)}</td><td>{text(p.merchant_id)}</td><td className="num">{yuan(p.amount as number)}</td><td>{text(p.status)}</td><td>{text(p.rail)}</td><td>{text(p.route_reason)}</td><td>{when(p.created_at as string)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <More more={list.more} loading={list.loading} />
    </section>
  );
}

/** GET /admin/v1/payout-batches: a batch's lines with an outcome (progress) and, while it is accepted, lines accepted. */
interface BatchSummary {
  batch_id: string;
  merchant_id: string;
  out_batch_no: string;
  line_count: number;
  lines_done: number;
  finished: boolean;
  lines_final: number;
  created_at: string;
}

const BATCH_POLL_MS = 2_000;

function Batches() {
  const t = useT();
  const list = useCursorList<BatchSummary>("/admin/v1/payout-batches", {});
  // A batch is under way until each line has an outcome (payouts wait for their rail, then for the bank).
  usePoll(list.rows.some((b) => !b.finished || b.lines_final < b.line_count), list.reload, BATCH_POLL_MS);
  return (
    <>
      <h3>{t("batches")}</h3>
      <Err error={list.error} />
      {list.rows.length === 0 && !list.loading && <p className="muted">{t("none")}</p>}
      {list.rows.length > 0 && (
        <table id="payout-batches">
          <thead><tr><th>{t("batch")}</th><th>{t("merchant")}</th><th className="num">{t("lines")}</th><th>{t("progress")}</th><th>{t("created")}</th></tr></thead>
          <tbody>
            {list.rows.map((b) => (
              <tr key={b.batch_id} className="payout-batch" data-batch={b.batch_id}>
                <td><code>{b.batch_id}</code> {b.out_batch_no}</td><td>{b.merchant_id}</td><td className="num">{b.line_count}</td>
                <td>
                  <ProgressBar
                    phase={b.finished && b.lines_final >= b.line_count ? "done" : "running"}
                    value={b.lines_final}
                    max={b.line_count}
                    detail={`${t("lines_final")} ${b.lines_final}/${b.line_count}${b.finished ? "" : ` · ${t("lines_accepted")} ${b.lines_done}/${b.line_count}`}`}
                  />
                </td>
                <td>{when(b.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <More more={list.more} loading={list.loading} />
    </>
  );
}
