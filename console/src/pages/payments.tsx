import { useEffect, useState } from "react";
import { api, query, type Page } from "../api.ts";
import { useT } from "../i18n.ts";
import { useCan } from "../session.ts";
import { parseYuan, yuan } from "../money.ts";
import { Err, More, useCursorList, when } from "./common.tsx";

interface Payment {
  payment_id: string;
  merchant_id: string;
  out_trade_no: string;
  amount: number;
  fee: number | null;
  status: string;
  channel: string | null;
  route_reason: string | null;
  failure_code: string | null;
  created_at: string;
  succeeded_at: string | null;
  refunded_amount: number;
  query_attempts: number;
  alert: boolean;
  refunds?: { refund_id: string; amount: number; status: string; created_at?: string }[];
}

interface Delivery {
  delivery_id: string;
  url: string;
  origin: string;
  status: string;
  attempt_count: number;
  next_attempt_at: string | null;
  attempts: { attempt_no: number; started_at: string; result: string; http_status: number | null }[];
}

interface History {
  history: { at: string; what: string; detail: string }[];
  network: {
    channel: string | null;
    route_reason: string | null;
    txn_id: string;
    network_txn_id: string | null;
    network_state: string;
    query_attempts: number;
    next_query_at: string | null;
    alert: boolean;
    failure_code: string | null;
    failure_message: string | null;
    refunds: { refund_id: string; txn_id: string; network_txn_id: string | null; network_state: string; status: string; query_attempts: number; failure_code: string | null }[];
    statement_lines: { reconciliation_id: string; date: string; channel: string; kind: string; order_id: string; amount: number | string; fee: number | string }[];
    exceptions: { exception_id: string; kind: string; status: string; resolution: string | null }[];
  };
  events: { event_id: string; type: string; status: string; created_at: string; deliveries: Delivery[] }[];
}

interface Account {
  kind: string;
  balance: number | string;
}

export function Payments() {
  const t = useT();
  // The admin API's filters: out_trade_no, merchant ID, status, and the payments on alert (outcome never told).
  const blank = { out_trade_no: "", merchant_id: "", status: "", alert: "" };
  const [filter, setFilter] = useState(blank);
  const [applied, setApplied] = useState(blank);
  const [open, setOpen] = useState<string | null>(null);
  const list = useCursorList<Payment>("/admin/v1/payments", Object.fromEntries(Object.entries(applied).map(([k, v]) => [k, v || undefined])));
  return (
    <section>
      <form className="row" id="payment-filter" onSubmit={(e) => (e.preventDefault(), setApplied({ ...filter, out_trade_no: filter.out_trade_no.trim(), merchant_id: filter.merchant_id.trim() }))}>
        <input id="search-out-trade-no" placeholder={t("out_trade_no")} value={filter.out_trade_no} onChange={(e) => setFilter({ ...filter, out_trade_no: e.target.value })} />
        <input id="search-merchant" placeholder={t("merchant")} value={filter.merchant_id} onChange={(e) => setFilter({ ...filter, merchant_id: e.target.value })} />
        <select id="search-status" value={filter.status} onChange={(e) => setFilter({ ...filter, status: e.target.value })}>
          <option value="">{t("status")}: {t("all")}</option>
          {["processing", "succeeded", "failed"].map((st) => <option key={st} value={st}>{st}</option>)}
        </select>
        <label><input id="search-alert" type="checkbox" checked={filter.alert === "true"} onChange={(e) => setFilter({ ...filter, alert: e.target.checked ? "true" : "" })} /> {t("alert")}</label>
        <button id="search" type="submit">{t("search")}</button>
      </form>
      <Err error={list.error} />
      <table id="payments">
        <thead><tr><th>{t("out_trade_no")}</th><th>{t("merchant")}</th><th className="num">{t("amount")}</th><th>{t("status")}</th><th>{t("channel")}</th><th>{t("created")}</th></tr></thead>
        <tbody>
          {list.rows.map((p) => (
            <tr key={p.payment_id} className="payment-row" onClick={() => setOpen(p.payment_id)}>
              <td><a href="#" onClick={(e) => e.preventDefault()}>{p.out_trade_no}</a></td><td>{p.merchant_id}</td><td className="num">{yuan(p.amount)}</td><td>{p.status}</td><td>{p.channel}</td><td>{when(p.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <More more={list.more} loading={list.loading} />
      {open && <PaymentDetail key={open} payment_id={open} />}
    </section>
  );
}

function PaymentDetail({ payment_id }: { payment_id: string }) {
  const t = useT();
  const can = useCan();
  const [p, setP] = useState<Payment | null>(null);
  const [accounts, setAccounts] = useState<Account[]>([]);
  const [h, setH] = useState<History | null>(null);
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const [msg, setMsg] = useState("");
  const [redelivered, setRedelivered] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const load = async () => {
    const res = await api<Payment>("GET", `/admin/v1/payments/${payment_id}`);
    setP(res.body);
    setH((await api<History>("GET", `/admin/v1/payments/${payment_id}/history`)).body);
    const acc = await api<Page<Account>>("GET", "/admin/v1/ledger/accounts" + query({ owner_id: res.body.merchant_id, limit: 100 }));
    setAccounts(acc.body.data);
  };
  useEffect(() => void load().catch((e: Error) => setError(e.message)), [payment_id]);
  const refund = async () => {
    const fen = parseYuan(amount);
    if (fen === null || fen <= 0n) return setError(`${t("refund_amount")}: ?`);
    setBusy(true);
    setError("");
    try {
      const out_refund_no = `console-${Date.now().toString(36)}`;
      const r = await api<{ refund_id: string; status: string }>("POST", `/admin/v1/payments/${payment_id}/refunds`, { out_refund_no, amount: Number(fen), reason: reason || "console" });
      setMsg(`${t("refund_done")}: ${r.body.refund_id} ${r.body.status}`);
      await load();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const redeliver = async (event_id: string) => {
    setError("");
    try {
      const r = await api<{ delivery_id: string; status: string }>("POST", `/admin/v1/events/${event_id}/redeliver`, {});
      setRedelivered(`${t("redeliver")}: ${r.body.delivery_id} ${r.body.status}`);
      await load();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  if (!p) return <Err error={error} />;
  return (
    <div className="card" id="payment-detail">
      <h3>{t("detail")} {p.payment_id}</h3>
      <table>
        <tbody>
          <tr><th>{t("out_trade_no")}</th><td>{p.out_trade_no}</td><th>{t("merchant")}</th><td>{p.merchant_id}</td></tr>
          <tr><th>{t("amount")}</th><td id="detail-amount">{yuan(p.amount)}</td><th>{t("fees")}</th><td>{yuan(p.fee)}</td></tr>
          <tr><th>{t("status")}</th><td id="detail-status">{p.status}{p.failure_code ? ` (${p.failure_code})` : ""}</td><th>{t("refunded")}</th><td id="detail-refunded">{yuan(p.refunded_amount)}</td></tr>
          <tr><th>{t("channel")}</th><td>{p.channel}</td><th>{t("route_reason")}</th><td>{p.route_reason}</td></tr>
        </tbody>
      </table>
      {h && (
        <>
          <h4>{t("timeline")}</h4>
          <ol id="history">{h.history.map((s, i) => <li key={i} data-what={s.what}><time>{when(s.at)}</time> <strong>{s.what}</strong> {s.detail}</li>)}</ol>
          <h4>{t("network_summary")}</h4>
          <table id="network-summary">
            <tbody>
              <tr><th>{t("channel")}</th><td>{h.network.channel ?? "—"}</td><th>{t("route_reason")}</th><td>{h.network.route_reason ?? "—"}</td></tr>
              <tr><th>txn_id</th><td><code>{h.network.txn_id}</code></td><th>network_txn_id</th><td><code>{h.network.network_txn_id ?? "—"}</code></td></tr>
              <tr><th>network_state</th><td>{h.network.network_state}</td><th>queries</th><td>{h.network.query_attempts}{h.network.next_query_at ? ` → ${when(h.network.next_query_at)}` : ""}{h.network.alert ? " · ALERT" : ""}</td></tr>
              {h.network.failure_code && <tr><th>{t("failed_to")}</th><td colSpan={3}>{h.network.failure_code} {h.network.failure_message}</td></tr>}
              {h.network.refunds.map((r) => <tr key={r.refund_id}><th>{r.refund_id}</th><td colSpan={3}><code>{r.txn_id}</code> → <code>{r.network_txn_id ?? "—"}</code> {r.network_state} {r.status} · queries {r.query_attempts}{r.failure_code ? ` · ${r.failure_code}` : ""}</td></tr>)}
              {h.network.statement_lines.map((l) => <tr key={`${l.reconciliation_id}-${l.order_id}`}><th>{t("recon_result")}</th><td colSpan={3}>{l.channel} {l.date} {l.kind} {yuan(l.amount)} ({t("fees")} {yuan(l.fee)})</td></tr>)}
              {h.network.exceptions.map((x) => <tr key={x.exception_id}><th>{x.exception_id}</th><td colSpan={3}>{x.kind} {x.status} {x.resolution ?? ""}</td></tr>)}
            </tbody>
          </table>
          <h4>{t("notifications")}</h4>
          <table id="notifications">
            <tbody>
              {h.events.map((e) => (
                <tr key={e.event_id} className="event" data-event={e.event_id}>
                  <td><code>{e.event_id}</code> {e.type}</td><td className="event-status">{e.status}</td>
                  <td>{e.deliveries.map((d) => <div key={d.delivery_id} className="delivery" data-origin={d.origin}>{d.origin} {d.status} · {t("attempts")} {d.attempt_count}{d.attempts.map((a) => ` [${a.result}${a.http_status ? ` ${a.http_status}` : ""}]`).join("")}</div>)}</td>
                  <td>{can("POST /admin/v1/events/:event_id/redeliver") && <button className="redeliver" onClick={() => void redeliver(e.event_id)}>{t("redeliver")}</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {redelivered && <p className="ok" id="redeliver-message">{redelivered}</p>}
        </>
      )}
      <h4>{t("refunds")}</h4>
      <ul id="refunds">{(p.refunds ?? []).map((r) => <li key={r.refund_id}>{r.refund_id} {yuan(r.amount)} {r.status}</li>)}</ul>
      <h4>{t("balance")}</h4>
      <ul id="balance">{accounts.map((a) => <li key={a.kind} data-kind={a.kind}>{a.kind}: <span className="amount">{yuan(a.balance)}</span></li>)}</ul>
      {can("POST /admin/v1/payments/:payment_id/refunds") && <div className="row">
        <input id="refund-amount" placeholder={t("refund_amount")} value={amount} onChange={(e) => setAmount(e.target.value)} />
        <input id="refund-reason" placeholder={t("reason")} value={reason} onChange={(e) => setReason(e.target.value)} />
        <button id="refund" disabled={busy} onClick={() => void refund()}>{busy ? t("running") : t("refund")}</button>
      </div>}
      {msg && <p className="ok" id="refund-message">{msg}</p>}
      <Err error={error} />
    </div>
  );
}
