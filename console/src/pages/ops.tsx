import { useState } from "react";
import { api } from "../api.ts";
import { useT } from "../i18n.ts";
import { yuan } from "../money.ts";
import { Err, More, useCursorList, when } from "./common.tsx";

type Row = Record<string, unknown>;
const text = (v: unknown) => (v === null || v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));

export function Proposals() {
  const t = useT();
  const list = useCursorList<Row>("/admin/v1/proposals", { status: "pending" });
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
              <td>{text(p.proposal_id)}</td><td>{text(p.kind)}</td><td>{text(p.summary ?? p.description)}</td><td>{text(p.proposed_by)}</td><td>{when(p.created_at as string)}</td>
              <td>
                <button className="approve" onClick={() => void decide(text(p.proposal_id), "approve")}>{t("approve")}</button>{" "}
                <button className="reject" onClick={() => void decide(text(p.proposal_id), "reject")}>{t("reject")}</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <More more={list.more} loading={list.loading} />
    </section>
  );
}

export function Channels() {
  const t = useT();
  const list = useCursorList<Row>("/admin/v1/channels", {});
  const [error, setError] = useState("");
  const toggle = async (c: Row) => {
    try {
      await api("PATCH", `/admin/v1/channels/${text(c.channel_id)}`, { enabled: !c.enabled });
      list.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <section>
      <Err error={list.error || error} />
      <table id="channels">
        <thead><tr><th>{t("channel")}</th><th>{t("enabled")}</th><th>{t("healthy")}</th><th>bps</th><th /></tr></thead>
        <tbody>
          {list.rows.map((c) => (
            <tr key={text(c.channel_id)}>
              <td>{text(c.channel_id)}</td><td>{c.enabled ? t("enabled") : t("disabled")}</td><td>{text(c.healthy)}</td><td>{text(c.cost_bps)}</td>
              <td><button onClick={() => void toggle(c)}>{c.enabled ? t("disable") : t("enable")}</button></td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function Settlement() {
  const t = useT();
  const list = useCursorList<Row>("/admin/v1/settlements", {});
  const [date, setDate] = useState(new Date().toISOString().slice(0, 10));
  const [state, setState] = useState("");
  const [error, setError] = useState("");
  const run = async () => {
    setState(t("running"));
    setError("");
    try {
      const res = await api("POST", "/admin/v1/settlements/run", { date });
      setState(`${t("done")}: ${JSON.stringify(res.body)}`);
      list.reload();
    } catch (err) {
      setState("");
      setError((err as Error).message);
    }
  };
  return (
    <section>
      <div className="row">
        <input id="settle-date" type="date" value={date} onChange={(e) => setDate(e.target.value)} />
        <button id="run-settlement" onClick={() => void run()}>{t("run_settlement")}</button>
        <span className="progress" id="settle-state">{state}</span>
      </div>
      <Err error={list.error || error} />
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
    </section>
  );
}

export function Risk() {
  const t = useT();
  const rules = useCursorList<Row>("/admin/v1/risk/rules", {});
  const alerts = useCursorList<Row>("/admin/v1/risk/alerts", {});
  return (
    <section>
      <h3>{t("rules")}</h3>
      <Err error={rules.error} />
      <table id="risk-rules"><tbody>{rules.rows.map((r) => <tr key={text(r.rule_id)}><td>{text(r.rule_id)}</td><td>{text(r.kind)}</td><td>{text(r.scope)}</td><td>{text(r.action)}</td><td>{text(r.mode)}</td><td>{text(r.merchant_id)}</td></tr>)}</tbody></table>
      <More more={rules.more} loading={rules.loading} />
      <h3>{t("alerts")}</h3>
      <Err error={alerts.error} />
      <table id="risk-alerts"><tbody>{alerts.rows.map((a) => <tr key={text(a.alert_id)}><td>{text(a.alert_id)}</td><td>{text(a.kind ?? a.rule_id)}</td><td>{text(a.merchant_id)}</td><td>{text(a.status)}</td><td>{when(a.created_at as string)}</td></tr>)}</tbody></table>
      <More more={alerts.more} loading={alerts.loading} />
    </section>
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
