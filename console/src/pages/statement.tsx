import { useState } from "react";
import { api, query } from "../api.ts";
import { useT, type Key } from "../i18n.ts";
import { yuan } from "../money.ts";
import { Err, More, useCursorList, when } from "./common.tsx";

/** GET /admin/v1/merchants/{id}/statements: the merchant's statement (same builder as its CSV), amounts in integer fen. */
interface Statement {
  merchant_id: string;
  date: string;
  accounts: { account: "pending" | "available"; opening: number; closing: number }[];
  lines: { line_type: string; occurred_at: string; account: "pending" | "available"; amount: number; reference_id: string; payment_id: string | null; entry_id: string; event_type: string }[];
  totals: { credits: number; debits: number; net: number };
  settlements: { settlement_id: string; status: string; gross: number; fees: number; refunds: number; net: number; item_count: number }[];
}

/** A merchant ID's statement for a day: balances, every line, totals. */
export function StatementView() {
  const t = useT();
  const [merchant, setMerchant] = useState("");
  const [date, setDate] = useState(new Date().toISOString().slice(0, 10));
  const [st, setSt] = useState<Statement | null>(null);
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(false);
  const load = async () => {
    setError("");
    setSt(null);
    if (!merchant.trim()) return setError(`${t("merchant")}: ?`);
    setLoading(true);
    try {
      setSt((await api<Statement>("GET", `/admin/v1/merchants/${encodeURIComponent(merchant.trim())}/statements${query({ date })}`)).body);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setLoading(false);
    }
  };
  const lineWord = (k: string) => {
    const key = `line_${k}` as Key;
    const word = t(key);
    return typeof word === "string" ? word : k;
  };
  return (
    <>
      <h3>{t("statements")}</h3>
      <form className="row" id="statement-form" onSubmit={(e) => (e.preventDefault(), void load())}>
        <input id="statement-merchant" placeholder={t("merchant")} value={merchant} onChange={(e) => setMerchant(e.target.value)} />
        <input id="statement-date" type="date" value={date} onChange={(e) => setDate(e.target.value)} />
        <button type="submit" id="statement-load">{t("search")}</button>
        {loading && <span className="progress">{t("loading")}</span>}
      </form>
      {error && <p className="error" id="statement-error">{error}</p>}
      {st && (
        <div className="card" id="statement" data-merchant={st.merchant_id} data-date={st.date}>
          <table id="statement-balances">
            <thead><tr><th>{t("account")}</th><th className="num">{t("opening")}</th><th className="num">{t("closing")}</th></tr></thead>
            <tbody>
              {st.accounts.map((a) => (
                <tr key={a.account} data-account={a.account}><td>{t(a.account)}</td><td className="num">{yuan(a.opening)}</td><td className="num closing">{yuan(a.closing)}</td></tr>
              ))}
            </tbody>
          </table>
          <table id="statement-lines">
            <thead><tr><th>{t("time")}</th><th>{t("kind")}</th><th>{t("account")}</th><th className="num">{t("amount")}</th><th>{t("reference")}</th></tr></thead>
            <tbody>
              {st.lines.map((l, i) => (
                <tr key={`${l.entry_id}/${i}`} className="statement-line" data-type={l.line_type} data-payment={l.payment_id ?? ""}>
                  <td>{when(l.occurred_at)}</td><td>{lineWord(l.line_type)}</td><td>{t(l.account)}</td><td className="num amount">{yuan(l.amount)}</td><td><code>{l.payment_id ?? l.reference_id}</code></td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr id="statement-totals">
                <td colSpan={3}>{t("totals")}: {st.lines.length} {t("lines")} · + <span className="credits">{yuan(st.totals.credits)}</span> · − <span className="debits">{yuan(st.totals.debits)}</span></td>
                <td className="num net">{yuan(st.totals.net)}</td><td />
              </tr>
            </tfoot>
          </table>
          {st.lines.length === 0 && <p className="muted">{t("none")}</p>}
          {st.settlements.length > 0 && (
            <p id="statement-settlements">
              {st.settlements.map((s) => <span key={s.settlement_id}><code>{s.settlement_id}</code> {s.status} · net {yuan(s.net)} ({s.item_count}) </span>)}
            </p>
          )}
        </div>
      )}
    </>
  );
}

interface Instruction {
  instruction_id: string;
  payee_merchant_id: string;
  settlement_date: string;
  amount: number;
  payee: { account_name: string; account_number_last4: string; bank_code: string };
  status: string;
  failure_reason: string | null;
  attempt_count: number;
  payout: { payout_id: string; status: string; rail: string | null; route_reason: string } | null;
  created_at: string;
}

/** GET /admin/v1/settlement-payouts: instructions to settlement accounts with the payout that pays each and its status. */
export function SettlementPayouts() {
  const t = useT();
  const list = useCursorList<Instruction>("/admin/v1/settlement-payouts", {});
  return (
    <>
      <h3>{t("settlement_payouts")}</h3>
      <Err error={list.error} />
      <table id="settlement-payouts">
        <thead><tr><th>ID</th><th>{t("merchant")}</th><th>{t("date")}</th><th className="num">{t("amount")}</th><th>{t("payee")}</th><th>{t("status")}</th><th>{t("payouts")}</th></tr></thead>
        <tbody>
          {list.rows.map((p) => (
            <tr key={p.instruction_id} className="settlement-payout" data-instruction={p.instruction_id} data-status={p.status}>
              <td><code>{p.instruction_id}</code></td><td>{p.payee_merchant_id}</td><td>{p.settlement_date}</td><td className="num">{yuan(p.amount)}</td>
              <td>{p.payee.account_name} ****{p.payee.account_number_last4} ({p.payee.bank_code})</td>
              <td>{p.status}{p.failure_reason ? ` · ${p.failure_reason}` : ""} ({p.attempt_count})</td>
              <td className="payout-status">{p.payout ? `${p.payout.payout_id} · ${p.payout.status}${p.payout.rail ? ` · ${p.payout.rail}` : ""}` : "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.rows.length === 0 && !list.loading && <p className="muted">{t("none")}</p>}
      <More more={list.more} loading={list.loading} />
    </>
  );
}
