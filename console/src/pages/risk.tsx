import { useState } from "react";
import { api } from "../api.ts";
import { useT } from "../i18n.ts";
import { useCan } from "../session.ts";
import { yuan } from "../money.ts";
import { Err, More, useCursorList, when } from "./common.tsx";

interface Rule {
  rule_id: string;
  name: string;
  applies_to: string;
  kind: string;
  scope: string;
  max_count: number | null;
  max_amount: number | string | null;
  window_seconds: number;
  action: string;
  mode: string;
  merchant_id: string | null;
  enabled: boolean;
}

interface Alert {
  alert_id: string;
  kind: string;
  merchant_id: string;
  payment_id: string | null;
  message: string;
  status: "open" | "closed";
  created_at: string;
  closed_by: string | null;
}

interface Signal {
  name: string;
  value: number;
  weight: number;
  contribution: number;
  detail: string;
}

interface Score {
  merchant_id: string;
  score: number;
  flagged: boolean;
  signals: Signal[];
  payments: number;
  scored_at: string;
}

const MERCHANT_ACTIONS = ["settlement_hold", "suspend", "alert"] as const;
type MerchantAction = (typeof MERCHANT_ACTIONS)[number];

/** Rules, alerts, and merchant IDs the monitor scored with what each signal contributed. */
export function Risk() {
  const t = useT();
  const can = useCan();
  const [flaggedOnly, setFlaggedOnly] = useState(true);
  const [alertStatus, setAlertStatus] = useState("open");
  const rules = useCursorList<Rule>("/admin/v1/risk/rules", {});
  const alerts = useCursorList<Alert>("/admin/v1/risk/alerts", { status: alertStatus || undefined });
  const scores = useCursorList<Score>("/admin/v1/risk/merchants", { flagged: flaggedOnly ? "true" : undefined });
  const [state, setState] = useState("");
  const [error, setError] = useState("");
  const runMonitor = async () => {
    setState(t("running"));
    setError("");
    try {
      const r = await api<{ merchants: number; flagged: number; held: number }>("POST", "/admin/v1/risk/monitor/run", {});
      setState(`${t("done")}: ${t("merchants")} ${r.body.merchants} · ${t("flagged")} ${r.body.flagged} · ${t("held")} ${r.body.held}`);
      scores.reload();
      alerts.reload();
    } catch (err) {
      setState("");
      setError((err as Error).message);
    }
  };
  const changed = () => (scores.reload(), alerts.reload());
  return (
    <section>
      <h3>{t("flagged")}</h3>
      <div className="row">
        <label><input id="flagged-only" type="checkbox" checked={flaggedOnly} onChange={(e) => setFlaggedOnly(e.target.checked)} /> {t("flagged_only")}</label>
        {can("POST /admin/v1/risk/monitor/run") && <button id="run-monitor" onClick={() => void runMonitor()}>{t("run_monitor")}</button>}
        <span className="progress" id="monitor-state">{state}</span>
      </div>
      <Err error={error || scores.error} />
      {scores.rows.length === 0 && !scores.loading && <p className="muted">{t("none")}</p>}
      {scores.rows.map((s) => <MerchantScore key={s.merchant_id} s={s} onChanged={changed} />)}
      <More more={scores.more} loading={scores.loading} />
      <h3>{t("alerts")}</h3>
      <div className="row">
        <select id="risk-alert-status" value={alertStatus} onChange={(e) => setAlertStatus(e.target.value)}>
          <option value="">{t("all")}</option><option value="open">{t("open")}</option><option value="closed">{t("closed")}</option>
        </select>
      </div>
      <Err error={alerts.error} />
      <AlertsTable rows={alerts.rows} onChanged={alerts.reload} />
      <More more={alerts.more} loading={alerts.loading} />
      <h3>{t("rules")}</h3>
      <Err error={rules.error} />
      <RulesTable rows={rules.rows} />
      <More more={rules.more} loading={rules.loading} />
    </section>
  );
}

/** One scored merchant ID: its score, each signal's contribution out of its weight, and the actions. */
function MerchantScore({ s, onChanged }: { s: Score; onChanged: () => void }) {
  const t = useT();
  const can = useCan();
  const [action, setAction] = useState<MerchantAction>("settlement_hold");
  const [reason, setReason] = useState("");
  const [msg, setMsg] = useState("");
  const [error, setError] = useState("");
  const act = async () => {
    if (!reason.trim()) return setError(`${t("reason")}: ?`);
    setError("");
    try {
      await api("POST", `/admin/v1/risk/merchants/${s.merchant_id}/actions`, { action, reason: reason.trim() });
      setMsg(`${t(action)} ✓`);
      onChanged();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <div className="card risk-merchant" data-merchant={s.merchant_id}>
      <div className="row">
        <strong>{s.merchant_id}</strong>
        <span className={s.flagged ? "error" : "ok"}>{t("score")} <strong className="risk-score">{s.score}</strong>{s.flagged ? ` · ${t("flagged_one")}` : ""}</span>
        <span className="muted">{t("count")} {s.payments} · {when(s.scored_at)}</span>
      </div>
      <table className="signals">
        <thead><tr><th>{t("signals")}</th><th className="num">{t("value")}</th><th className="num">{t("contribution")}</th><th /><th>{t("detail")}</th></tr></thead>
        <tbody>
          {s.signals.map((g) => (
            <tr key={g.name} className="signal" data-signal={g.name}>
              <td>{g.name}</td><td className="num">{g.value}</td><td className="num contribution">{g.contribution} / {g.weight}</td>
              <td><meter min={0} max={g.weight} value={g.contribution} /></td><td>{g.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {can("POST /admin/v1/risk/merchants/:merchant_id/actions") && (
        <form className="row risk-actions" onSubmit={(e) => (e.preventDefault(), void act())}>
          <select name="action" value={action} onChange={(e) => setAction(e.target.value as MerchantAction)}>
            {MERCHANT_ACTIONS.map((a) => <option key={a} value={a}>{t(a)}</option>)}
          </select>
          <input name="reason" placeholder={t("reason")} value={reason} maxLength={500} onChange={(e) => setReason(e.target.value)} />
          <button type="submit" className="risk-act">{t("submit")}</button>
          {msg && <span className="ok risk-msg">{msg}</span>}
        </form>
      )}
      <Err error={error} />
    </div>
  );
}

function AlertsTable({ rows, onChanged }: { rows: Alert[]; onChanged: () => void }) {
  const t = useT();
  const can = useCan();
  const [error, setError] = useState("");
  const close = async (alert_id: string) => {
    setError("");
    try {
      await api("POST", `/admin/v1/risk/alerts/${alert_id}/close`, {});
      onChanged();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <>
      <Err error={error} />
      <table id="risk-alerts">
        <thead><tr><th>{t("time")}</th><th>{t("kind")}</th><th>{t("merchant")}</th><th>{t("detail")}</th><th>{t("status")}</th><th /></tr></thead>
        <tbody>
          {rows.map((a) => (
            <tr key={a.alert_id} className="risk-alert" data-alert={a.alert_id} data-kind={a.kind}>
              <td>{when(a.created_at)}</td><td>{a.kind}</td><td>{a.merchant_id}</td><td>{a.message}{a.payment_id ? ` (${a.payment_id})` : ""}</td>
              <td>{t(a.status)}{a.closed_by ? ` · ${a.closed_by}` : ""}</td>
              <td>{a.status === "open" && can("POST /admin/v1/risk/alerts/:alert_id/close") && <button className="close-alert" onClick={() => void close(a.alert_id)}>{t("close")}</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function RulesTable({ rows }: { rows: Rule[] }) {
  const t = useT();
  return (
    <table id="risk-rules">
      <thead>
        <tr><th>{t("name")}</th><th>{t("applies_to")}</th><th>{t("kind")}</th><th>{t("scope")}</th><th className="num">{t("max_count")}</th><th className="num">{t("max_amount")}</th><th className="num">{t("window")}</th><th>{t("action")}</th><th>{t("mode")}</th><th>{t("merchant")}</th><th>{t("enabled")}</th></tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.rule_id} data-rule={r.rule_id}>
            <td>{r.name} <code>{r.rule_id}</code></td><td>{r.applies_to}</td><td>{r.kind}</td><td>{r.scope}</td><td className="num">{r.max_count ?? "—"}</td>
            <td className="num">{yuan(r.max_amount)}</td><td className="num">{r.window_seconds}s</td><td>{r.action}</td><td>{r.mode}</td><td>{r.merchant_id ?? t("all")}</td><td>{r.enabled ? "✓" : "✗"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
