import { useState } from "react";
import { api } from "../api.ts";
import { useT } from "../i18n.ts";
import { useCan } from "../session.ts";
import { Err, More, useCursorList, when } from "./common.tsx";

interface Merchant {
  merchant_id: string;
  entity_id: string;
  parent_merchant_id: string | null;
  name: string;
  status: string;
  risk_level: string;
  products: { product: string; fee_rate_bps: number }[];
  settlement: { mode: string; cycle_days: number; account: { account_name: string; account_number_last4: string; bank_code: string } | null };
}

/** GET /admin/v1/merchants/{id}/keys: a key, never its secret. */
interface ApiKey {
  key_id: string;
  status: "active" | "revoked" | "expired";
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

/** Entities → merchant IDs → sub-merchants, built from the merchant list (paged by cursor). */
export function Merchants() {
  const t = useT();
  const list = useCursorList<Merchant>("/admin/v1/merchants", {});
  const entities = [...new Set(list.rows.map((m) => m.entity_id))];
  const children = (parent: string) => list.rows.filter((m) => m.parent_merchant_id === parent);
  return (
    <section className="tree">
      <Err error={list.error} />
      <ul>
        {entities.map((e) => (
          <li key={e} className="entity">
            <strong>{t("entity")} {e}</strong>
            <ul>
              {list.rows.filter((m) => m.entity_id === e && !m.parent_merchant_id).map((m) => (
                <li key={m.merchant_id}>
                  <MerchantNode m={m} reload={list.reload} />
                  <ul>{children(m.merchant_id).map((s) => <li key={s.merchant_id}><MerchantNode m={s} reload={list.reload} /></li>)}</ul>
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
      <More more={list.more} loading={list.loading} />
    </section>
  );
}

function MerchantNode({ m, reload }: { m: Merchant; reload: () => void }) {
  const t = useT();
  const [error, setError] = useState("");
  const [note, setNote] = useState("");
  const [form, setForm] = useState<{ account_name: string; account_number: string; bank_code: string } | null>(null);
  const act = async (f: () => Promise<string | void>) => {
    setError("");
    try {
      const msg = await f();
      if (msg) setNote(msg);
      reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const can = useCan();
  const suspended = m.status === "suspended";
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const loadKeys = async () => setKeys((await api<{ data: ApiKey[] }>("GET", `/admin/v1/merchants/${m.merchant_id}/keys`)).body.data);
  const revoke = (key_id: string) =>
    act(async () => {
      await api("POST", `/admin/v1/merchants/${m.merchant_id}/keys/${key_id}/revoke`, {});
      await loadKeys();
      return `${t("revoke")}: ${key_id}`;
    });
  return (
    <div className="card merchant" data-merchant={m.merchant_id}>
      <div className="row">
        <strong>{m.name}</strong> <code>{m.merchant_id}</code> <span className="status">{m.status}</span>
        <span>{m.products.map((p) => `${p.product} ${p.fee_rate_bps}bps`).join(", ")}</span>
        <span>{m.settlement.account ? `${m.settlement.account.account_name} ****${m.settlement.account.account_number_last4}` : m.settlement.mode}</span>
      </div>
      <div className="row">
        {can("PATCH /admin/v1/merchants/:merchant_id") && <button className="toggle-status" onClick={() => void act(async () => void (await api("PATCH", `/admin/v1/merchants/${m.merchant_id}`, { status: suspended ? "active" : "suspended" })))}>
          {suspended ? t("activate") : t("suspend")}
        </button>}
        {can("POST /admin/v1/merchants/:merchant_id/keys") && <button className="rotate" onClick={() => void act(async () => `${t("new_secret")}: ${JSON.stringify((await api("POST", `/admin/v1/merchants/${m.merchant_id}/keys`, {})).body)}`)}>{t("rotate_key")}</button>}
        {can("GET /admin/v1/merchants/:merchant_id/keys") && <button className="show-keys" onClick={() => void loadKeys().catch((err: Error) => setError(err.message))}>{t("api_keys")}</button>}
        {m.settlement.mode === "own" && can("PATCH /admin/v1/merchants/:merchant_id") && <button className="change-account" onClick={() => setForm({ account_name: "", account_number: "", bank_code: "" })}>{t("settlement_account")}</button>}
      </div>
      {form && (
        <form className="row account-form" onSubmit={(e) => {
          e.preventDefault();
          void act(async () => {
            const res = await api<{ proposal_id?: string }>("PATCH", `/admin/v1/merchants/${m.merchant_id}`, { settlement: { mode: "own", cycle_days: m.settlement.cycle_days, account: form } });
            setForm(null);
            return res.status === 202 ? `${t("proposed")} (${res.body.proposal_id ?? ""})` : t("done");
          });
        }}>
          <input name="account_name" placeholder={t("account_name")} value={form.account_name} onChange={(e) => setForm({ ...form, account_name: e.target.value })} />
          <input name="account_number" placeholder={t("account_number")} value={form.account_number} onChange={(e) => setForm({ ...form, account_number: e.target.value })} />
          <input name="bank_code" placeholder={t("bank_code")} value={form.bank_code} onChange={(e) => setForm({ ...form, bank_code: e.target.value })} />
          <button type="submit">{t("propose")}</button>
        </form>
      )}
      {keys && (
        <table className="keys">
          <thead><tr><th>key_id</th><th>{t("status")}</th><th>{t("created")}</th><th>{t("expires")}</th><th /></tr></thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.key_id} data-key={k.key_id}>
                <td><code>{k.key_id}</code></td><td className="key-status">{k.status}</td><td>{when(k.created_at)}</td><td>{when(k.revoked_at ?? k.expires_at)}</td>
                <td>{k.status === "active" && can("POST /admin/v1/merchants/:merchant_id/keys/:key_id/revoke") && <button className="revoke-key" onClick={() => void revoke(k.key_id)}>{t("revoke")}</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {note && <p className="ok note">{note}</p>}
      <Err error={error} />
    </div>
  );
}
