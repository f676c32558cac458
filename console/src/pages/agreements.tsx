import { useState } from "react";
import { useT } from "../i18n.ts";
import { Err, More, useCursorList, when } from "./common.tsx";

interface Agreement {
  agreement_id: string;
  merchant_id: string;
  user_ref: string;
  status: "active" | "unbound";
  created_at: string;
  unbound_at: string | null;
  unbound_reason: string | null;
  card: { last4: string; bank_code: string; bank_name: string; card_type: string };
  networks: { channel_id: string; origin: string; status: string }[];
}

/**
 * Agreements searched by user_ref, the card's last 4 digits, bank: never a full card number (the
 * field takes four digits, and the API refuses anything else).
 */
export function Agreements() {
  const t = useT();
  const [form, setForm] = useState({ user_ref: "", last4: "", bank: "", status: "" });
  const [applied, setApplied] = useState(form);
  const [problem, setProblem] = useState("");
  const list = useCursorList<Agreement>("/admin/v1/agreements", {
    user_ref: applied.user_ref || undefined,
    last4: applied.last4 || undefined,
    bank: applied.bank || undefined,
    status: applied.status || undefined,
  });
  const search = () => {
    const last4 = form.last4.trim();
    if (last4 && !/^\d{4}$/.test(last4)) return setProblem(t("full_card_refused"));
    setProblem("");
    setApplied({ ...form, user_ref: form.user_ref.trim(), last4, bank: form.bank.trim() });
  };
  return (
    <section>
      <form className="row" id="agreement-search" onSubmit={(e) => (e.preventDefault(), search())}>
        <input name="user_ref" placeholder={t("user_ref")} value={form.user_ref} onChange={(e) => setForm({ ...form, user_ref: e.target.value })} />
        <input name="last4" placeholder={t("last4")} inputMode="numeric" autoComplete="off" maxLength={4} value={form.last4} onChange={(e) => setForm({ ...form, last4: e.target.value })} />
        <input name="bank" placeholder={`${t("bank")} (ICBC / 中国工商银行)`} value={form.bank} onChange={(e) => setForm({ ...form, bank: e.target.value })} />
        <select name="status" value={form.status} onChange={(e) => setForm({ ...form, status: e.target.value })}>
          <option value="">{t("all")}</option>
          <option value="active">active</option>
          <option value="unbound">unbound</option>
        </select>
        <button type="submit" id="agreement-search-go">{t("search")}</button>
      </form>
      <Err error={problem || list.error} />
      <table id="agreements">
        <thead><tr><th>ID</th><th>{t("merchant")}</th><th>{t("user_ref")}</th><th>{t("bank")}</th><th>{t("last4")}</th><th>{t("card_type")}</th><th>{t("channel")}</th><th>{t("status")}</th><th>{t("created")}</th></tr></thead>
        <tbody>
          {list.rows.map((a) => (
            <tr key={a.agreement_id} className="agreement-row">
              <td><code>{a.agreement_id}</code></td><td>{a.merchant_id}</td><td>{a.user_ref}</td><td>{a.card.bank_name} ({a.card.bank_code})</td>
              <td className="last4">****{a.card.last4}</td><td>{a.card.card_type}</td>
              <td>{a.networks.map((n) => `${n.channel_id}${n.origin === "synced" ? "*" : ""}${n.status === "active" ? "" : " ✗"}`).join(", ")}</td>
              <td>{a.status === "active" ? a.status : `${t("unbound")} ${a.unbound_reason ?? ""}`}</td><td>{when(a.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {!list.loading && list.rows.length === 0 && <p>{t("none")}</p>}
      <More more={list.more} loading={list.loading} />
    </section>
  );
}
