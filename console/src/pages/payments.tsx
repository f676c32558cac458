import { useEffect, useState } from "react";
import { api, query, type Page } from "../api.ts";
import { useT } from "../i18n.ts";
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

interface Account {
  kind: string;
  balance: number | string;
}

export function Payments() {
  const t = useT();
  const [filter, setFilter] = useState("");
  const [applied, setApplied] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  const list = useCursorList<Payment>("/admin/v1/payments", { out_trade_no: applied || undefined });
  return (
    <section>
      <form className="row" onSubmit={(e) => (e.preventDefault(), setApplied(filter.trim()))}>
        <input id="search-out-trade-no" placeholder={t("out_trade_no")} value={filter} onChange={(e) => setFilter(e.target.value)} />
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
  const [p, setP] = useState<Payment | null>(null);
  const [accounts, setAccounts] = useState<Account[]>([]);
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const [msg, setMsg] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const load = async () => {
    const res = await api<Payment>("GET", `/admin/v1/payments/${payment_id}`);
    setP(res.body);
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
          <tr><th>{t("state_history")}</th><td colSpan={3}>{when(p.created_at)} processing → {p.status} {when(p.succeeded_at)} · queries: {p.query_attempts}{p.alert ? " · ALERT" : ""}</td></tr>
        </tbody>
      </table>
      <h4>{t("refunds")}</h4>
      <ul id="refunds">{(p.refunds ?? []).map((r) => <li key={r.refund_id}>{r.refund_id} {yuan(r.amount)} {r.status}</li>)}</ul>
      <h4>{t("balance")}</h4>
      <ul id="balance">{accounts.map((a) => <li key={a.kind} data-kind={a.kind}>{a.kind}: <span className="amount">{yuan(a.balance)}</span></li>)}</ul>
      <div className="row">
        <input id="refund-amount" placeholder={t("refund_amount")} value={amount} onChange={(e) => setAmount(e.target.value)} />
        <input id="refund-reason" placeholder={t("reason")} value={reason} onChange={(e) => setReason(e.target.value)} />
        <button id="refund" disabled={busy} onClick={() => void refund()}>{busy ? t("running") : t("refund")}</button>
      </div>
      {msg && <p className="ok" id="refund-message">{msg}</p>}
      <Err error={error} />
    </div>
  );
}
