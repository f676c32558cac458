import { useState } from "react";
import { api } from "../api.ts";
import { useT } from "../i18n.ts";
import { useCan } from "../session.ts";
import { parseYuan, yuan } from "../money.ts";
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
      {can("POST /admin/v1/risk/rules") && <RuleForm onCreated={rules.reload} />}
      <Err error={rules.error} />
      <RulesTable rows={rules.rows} onChanged={rules.reload} />
      <More more={rules.more} loading={rules.loading} />
      <Blocklist />
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

/** Blank → undefined; else the integer, or NaN (refused before sending). */
const intOrNone = (text: string): number | undefined => (text.trim() === "" ? undefined : /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN);
/** A yuan amount typed with at most two decimals → fen (BigInt, then a safe integer for JSON); blank → undefined. */
function fenOrNone(text: string): number | undefined {
  if (text.trim() === "") return undefined;
  const fen = parseYuan(text);
  return fen === null ? NaN : Number(fen);
}

/** A new rule: the fields POST /admin/v1/risk/rules takes; the API's 400 (naming the field) is shown beside the form. */
function RuleForm({ onCreated }: { onCreated: () => void }) {
  const t = useT();
  const [f, setF] = useState({ name: "", applies_to: "payment", kind: "velocity", scope: "card", max_count: "", max_amount: "", window_seconds: "3600", action: "reject", mode: "enforce", merchant_id: "", enabled: true });
  const [error, setError] = useState("");
  const [msg, setMsg] = useState("");
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF((o) => ({ ...o, [k]: e.target.value }));
  const submit = async () => {
    setError("");
    setMsg("");
    const max_count = intOrNone(f.max_count);
    const max_amount = fenOrNone(f.max_amount);
    const window_seconds = intOrNone(f.window_seconds);
    if (Number.isNaN(max_count)) return setError(`max_count: ${t("bad_number")}`);
    if (Number.isNaN(max_amount)) return setError(`max_amount: ${t("bad_yuan")}`);
    if (window_seconds === undefined || Number.isNaN(window_seconds)) return setError(`window_seconds: ${t("bad_number")}`);
    const body = {
      ...(f.name.trim() ? { name: f.name.trim() } : {}),
      applies_to: f.applies_to, kind: f.kind, scope: f.scope, window_seconds, action: f.action, mode: f.mode, enabled: f.enabled,
      ...(max_count !== undefined ? { max_count } : {}),
      ...(max_amount !== undefined ? { max_amount } : {}),
      ...(f.merchant_id.trim() ? { merchant_id: f.merchant_id.trim() } : {}),
    };
    try {
      const r = await api<Rule>("POST", "/admin/v1/risk/rules", body);
      setMsg(`${t("created_one")}: ${r.body.rule_id}`);
      onCreated();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const sel = (k: "applies_to" | "kind" | "scope" | "action" | "mode", opts: string[]) => (
    <label>{t(k)} <select name={k} value={f[k]} onChange={set(k)}>{opts.map((o) => <option key={o} value={o}>{o}</option>)}</select></label>
  );
  return (
    <form id="rule-form" className="card" onSubmit={(e) => (e.preventDefault(), void submit())}>
      <div className="row">
        <strong>{t("new_rule")}</strong>
        <label>{t("name")} <input name="name" value={f.name} maxLength={100} onChange={set("name")} /></label>
        {sel("applies_to", ["payment", "signing"])}
        {sel("kind", ["velocity", "amount", "first_payment"])}
        {sel("scope", ["card", "id_holder", "merchant", "phone"])}
      </div>
      <div className="row">
        <label>{t("max_count")} <input name="max_count" size={6} value={f.max_count} onChange={set("max_count")} /></label>
        <label>{t("max_amount_yuan")} <input name="max_amount" size={10} value={f.max_amount} onChange={set("max_amount")} /></label>
        <label>{t("window_seconds")} <input name="window_seconds" size={8} value={f.window_seconds} onChange={set("window_seconds")} /></label>
        {sel("action", ["reject", "review"])}
        {sel("mode", ["enforce", "shadow"])}
        <label>{t("merchant")} <input name="merchant_id" placeholder={t("all")} value={f.merchant_id} onChange={set("merchant_id")} /></label>
        <label><input name="enabled" type="checkbox" checked={f.enabled} onChange={(e) => setF((o) => ({ ...o, enabled: e.target.checked }))} /> {t("enabled")}</label>
        <button type="submit" id="rule-create">{t("create")}</button>
        {msg && <span className="ok" id="rule-msg">{msg}</span>}
      </div>
      {error && <p className="error" id="rule-error">{error}</p>}
    </form>
  );
}

function RulesTable({ rows, onChanged }: { rows: Rule[]; onChanged: () => void }) {
  const t = useT();
  const can = useCan();
  const edit = can("PATCH /admin/v1/risk/rules/:rule_id");
  return (
    <table id="risk-rules">
      <thead>
        <tr><th>{t("name")}</th><th>{t("applies_to")}</th><th>{t("kind")}</th><th>{t("scope")}</th><th className="num">{t("max_count")}</th><th className="num">{t("max_amount")}</th><th className="num">{t("window")}</th><th>{t("action")}</th><th>{t("mode")}</th><th>{t("merchant")}</th><th>{t("enabled")}</th>{edit && <th />}</tr>
      </thead>
      <tbody>
        {rows.map((r) => <RuleRow key={r.rule_id} r={r} edit={edit} onChanged={onChanged} />)}
      </tbody>
    </table>
  );
}

/** One rule; where the role may, enable/disable at once, or change limits, window, action and mode in place. */
function RuleRow({ r, edit, onChanged }: { r: Rule; edit: boolean; onChanged: () => void }) {
  const t = useT();
  const [editing, setEditing] = useState(false);
  const [f, setF] = useState({ max_count: "", max_amount: "", window_seconds: "", action: r.action, mode: r.mode });
  const [error, setError] = useState("");
  const patch = async (body: Record<string, unknown>) => {
    setError("");
    try {
      await api("PATCH", `/admin/v1/risk/rules/${r.rule_id}`, body);
      setEditing(false);
      onChanged();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const startEdit = () => {
    setF({ max_count: r.max_count === null ? "" : String(r.max_count), max_amount: r.max_amount === null ? "" : yuan(r.max_amount).replace(/[¥,]/g, ""), window_seconds: String(r.window_seconds), action: r.action, mode: r.mode });
    setError("");
    setEditing(true);
  };
  const save = () => {
    const max_count = intOrNone(f.max_count);
    const max_amount = fenOrNone(f.max_amount);
    const window_seconds = intOrNone(f.window_seconds);
    if (Number.isNaN(max_count)) return setError(`max_count: ${t("bad_number")}`);
    if (Number.isNaN(max_amount)) return setError(`max_amount: ${t("bad_yuan")}`);
    if (window_seconds === undefined || Number.isNaN(window_seconds)) return setError(`window_seconds: ${t("bad_number")}`);
    void patch({ max_count: max_count ?? null, max_amount: max_amount ?? null, window_seconds, action: f.action, mode: f.mode });
  };
  const cell = (k: "max_count" | "max_amount" | "window_seconds") => <input name={k} size={8} value={f[k]} onChange={(e) => setF((o) => ({ ...o, [k]: e.target.value }))} />;
  const pick = (k: "action" | "mode", opts: string[]) => <select name={k} value={f[k]} onChange={(e) => setF((o) => ({ ...o, [k]: e.target.value }))}>{opts.map((o) => <option key={o} value={o}>{o}</option>)}</select>;
  return (
    <>
      <tr className="risk-rule" data-rule={r.rule_id} data-name={r.name} data-enabled={String(r.enabled)}>
        <td>{r.name} <code>{r.rule_id}</code></td><td>{r.applies_to}</td><td>{r.kind}</td><td>{r.scope}</td>
        {editing ? (
          <>
            <td className="num">{cell("max_count")}</td><td className="num">{cell("max_amount")}</td><td className="num">{cell("window_seconds")}</td><td>{pick("action", ["reject", "review"])}</td><td>{pick("mode", ["enforce", "shadow"])}</td>
          </>
        ) : (
          <>
            <td className="num">{r.max_count ?? "—"}</td><td className="num">{yuan(r.max_amount)}</td><td className="num">{r.window_seconds}s</td><td>{r.action}</td><td>{r.mode}</td>
          </>
        )}
        <td>{r.merchant_id ?? t("all")}</td><td className="rule-enabled">{r.enabled ? "✓" : "✗"}</td>
        {edit && (
          <td>
            <button className="rule-toggle" onClick={() => void patch({ enabled: !r.enabled })}>{r.enabled ? t("disable") : t("enable")}</button>{" "}
            {editing ? (
              <><button className="rule-save" onClick={save}>{t("save")}</button> <button className="rule-cancel" onClick={() => setEditing(false)}>{t("cancel")}</button></>
            ) : (
              <button className="rule-edit" onClick={startEdit}>{t("edit")}</button>
            )}
          </td>
        )}
      </tr>
      {error && <tr className="rule-error-row"><td colSpan={12} className="error rule-error">{error}</td></tr>}
    </>
  );
}

interface BlockEntry {
  entry_id: string;
  kind: "card_number" | "id_number" | "phone";
  hint: string;
  reason: string | null;
  created_by: string;
  created_at: string;
}

/**
 * The blocklist: entries show their kind and the value's last four characters (the API keeps only a
 * keyed fingerprint and that hint, so a full number is never shown); add by value, remove.
 */
function Blocklist() {
  const t = useT();
  const can = useCan();
  const [kind, setKind] = useState("");
  const list = useCursorList<BlockEntry>("/admin/v1/risk/blocklist", { kind: kind || undefined });
  const [f, setF] = useState({ kind: "card_number", value: "", reason: "" });
  const [error, setError] = useState("");
  const [msg, setMsg] = useState("");
  const add = async () => {
    setError("");
    setMsg("");
    try {
      const r = await api<BlockEntry>("POST", "/admin/v1/risk/blocklist", { kind: f.kind, value: f.value.trim(), ...(f.reason.trim() ? { reason: f.reason.trim() } : {}) });
      // The typed number leaves the page's state at once; only the hint stays.
      setF((o) => ({ ...o, value: "", reason: "" }));
      setMsg(`${t("blocked")}: ${t(r.body.kind)} ${r.body.hint}`);
      list.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const remove = async (entry_id: string) => {
    setError("");
    setMsg("");
    try {
      await api("DELETE", `/admin/v1/risk/blocklist/${entry_id}`);
      setMsg(`${t("removed")} ✓`);
      list.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const canRemove = can("DELETE /admin/v1/risk/blocklist/:entry_id");
  const kinds = ["card_number", "id_number", "phone"] as const;
  return (
    <>
      <h3>{t("blocklist")}</h3>
      <div className="row">
        <select id="blocklist-kind" value={kind} onChange={(e) => setKind(e.target.value)}>
          <option value="">{t("all")}</option>
          {kinds.map((k) => <option key={k} value={k}>{t(k)}</option>)}
        </select>
      </div>
      {can("POST /admin/v1/risk/blocklist") && (
        <form id="blocklist-form" className="row" autoComplete="off" onSubmit={(e) => (e.preventDefault(), void add())}>
          <select name="kind" value={f.kind} onChange={(e) => setF((o) => ({ ...o, kind: e.target.value }))}>
            {kinds.map((k) => <option key={k} value={k}>{t(k)}</option>)}
          </select>
          <input name="value" placeholder={t("block_value")} maxLength={32} autoComplete="off" value={f.value} onChange={(e) => setF((o) => ({ ...o, value: e.target.value }))} />
          <input name="reason" placeholder={t("reason")} maxLength={500} value={f.reason} onChange={(e) => setF((o) => ({ ...o, reason: e.target.value }))} />
          <button type="submit" id="blocklist-add">{t("add")}</button>
          {msg && <span className="ok" id="blocklist-msg">{msg}</span>}
        </form>
      )}
      {error && <p className="error" id="blocklist-error">{error}</p>}
      <Err error={list.error} />
      <table id="blocklist">
        <thead><tr><th>{t("kind")}</th><th>{t("hint")}</th><th>{t("reason")}</th><th>{t("operator")}</th><th>{t("time")}</th>{canRemove && <th />}</tr></thead>
        <tbody>
          {list.rows.map((b) => (
            <tr key={b.entry_id} className="block-entry" data-entry={b.entry_id} data-kind={b.kind} data-hint={b.hint}>
              <td>{t(b.kind)}</td><td className="hint">{b.hint}</td><td>{b.reason ?? "—"}</td><td>{b.created_by}</td><td>{when(b.created_at)}</td>
              {canRemove && <td><button className="block-remove" onClick={() => void remove(b.entry_id)}>{t("remove")}</button></td>}
            </tr>
          ))}
        </tbody>
      </table>
      {list.rows.length === 0 && !list.loading && <p className="muted">{t("none")}</p>}
      <More more={list.more} loading={list.loading} />
    </>
  );
}
