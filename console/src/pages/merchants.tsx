import { useState } from "react";
import { api } from "../api.ts";
import { useT } from "../i18n.ts";
import { useCan } from "../session.ts";
import { parseYuan, yuan } from "../money.ts";
import { Err, More, useCursorList, when } from "./common.tsx";

interface Merchant {
  merchant_id: string;
  entity_id: string;
  parent_merchant_id: string | null;
  name: string;
  status: string;
  risk_level: string;
  products: { product: string; fee_rate_bps: number; fee_min: number }[];
  settlement: { mode: string; cycle_days: number; account: { account_name: string; account_number_last4: string; bank_code: string } | null };
  settlement_hold: { reason: string; since: string } | null;
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
        <span className="products">{m.products.map((p) => <span key={p.product} className="product" data-product={p.product}>{p.product} <span className="fee-rate">{p.fee_rate_bps}bps</span> · {t("fee_min")} <span className="fee-min">{yuan(p.fee_min)}</span>{" "}</span>)}</span>
        <span>{m.settlement.account ? `${m.settlement.account.account_name} ****${m.settlement.account.account_number_last4}` : m.settlement.mode}</span>
        {m.settlement_hold && <span className="warn settlement-hold" title={when(m.settlement_hold.since)}>{t("settlement_held")}: {m.settlement_hold.reason}</span>}
      </div>
      <div className="row">
        {can("PATCH /admin/v1/merchants/:merchant_id") && <button className="toggle-status" onClick={() => void act(async () => void (await api("PATCH", `/admin/v1/merchants/${m.merchant_id}`, { status: suspended ? "active" : "suspended" })))}>
          {suspended ? t("activate") : t("suspend")}
        </button>}
        {can("POST /admin/v1/merchants/:merchant_id/keys") && <button className="rotate" onClick={() => void act(async () => `${t("new_secret")}: ${JSON.stringify((await api("POST", `/admin/v1/merchants/${m.merchant_id}/keys`, {})).body)}`)}>{t("rotate_key")}</button>}
        {can("GET /admin/v1/merchants/:merchant_id/keys") && <button className="show-keys" onClick={() => void loadKeys().catch((err: Error) => setError(err.message))}>{t("api_keys")}</button>}
        {m.settlement_hold && can("DELETE /admin/v1/merchants/:merchant_id/settlement-hold") && (
          <button className="release-hold" onClick={() => void act(async () => `${t("proposed")} (${(await api<{ proposal_id: string }>("DELETE", `/admin/v1/merchants/${m.merchant_id}/settlement-hold`)).body.proposal_id})`)}>{t("release_hold")}</button>
        )}
        {m.settlement.mode === "own" && can("PATCH /admin/v1/merchants/:merchant_id") && <button className="change-account" onClick={() => setForm({ account_name: "", account_number: "", bank_code: "" })}>{t("settlement_account")}</button>}
      </div>
      {can("PATCH /admin/v1/merchants/:merchant_id") && m.products.length > 0 && <ProductFees m={m} act={act} />}
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

/**
 * A product's fee rate (bps) and minimum fee (typed in yuan, sent as integer fen). PATCH
 * /admin/v1/merchants/{id} replaces the whole product list, so the others are sent unchanged.
 * A fee change applies at once (only settlement changes are four-eyes); a 202 would show as a proposal.
 */
function ProductFees({ m, act }: { m: Merchant; act: (f: () => Promise<string | void>) => Promise<void> }) {
  const t = useT();
  const [product, setProduct] = useState(m.products[0]!.product);
  const current = m.products.find((p) => p.product === product) ?? m.products[0]!;
  const [rate, setRate] = useState("");
  const [min, setMin] = useState("");
  const [error, setError] = useState("");
  const submit = () => {
    setError("");
    const bps = rate.trim() === "" ? current.fee_rate_bps : /^\d{1,5}$/.test(rate.trim()) ? Number(rate.trim()) : NaN;
    if (Number.isNaN(bps)) return setError(`fee_rate_bps: ${t("bad_number")}`);
    const minFen = min.trim() === "" ? current.fee_min : parseYuan(min);
    if (minFen === null) return setError(`fee_min: ${t("bad_yuan")}`);
    const products = m.products.map((p) => (p.product === current.product ? { product: p.product, fee_rate_bps: bps, fee_min: Number(minFen) } : { product: p.product, fee_rate_bps: p.fee_rate_bps, fee_min: p.fee_min }));
    void act(async () => {
      const res = await api<{ proposal_id?: string }>("PATCH", `/admin/v1/merchants/${m.merchant_id}`, { products });
      setRate("");
      setMin("");
      return res.status === 202 ? `${t("proposed")} (${res.body.proposal_id ?? ""})` : `${t("fee_changed")}: ${current.product}`;
    });
  };
  return (
    <>
      <form className="row fee-form" onSubmit={(e) => (e.preventDefault(), submit())}>
        <select name="product" value={current.product} onChange={(e) => setProduct(e.target.value)}>
          {m.products.map((p) => <option key={p.product} value={p.product}>{p.product}</option>)}
        </select>
        <input name="fee_rate_bps" size={16} placeholder={`${t("fee_rate_bps")} (${current.fee_rate_bps})`} value={rate} onChange={(e) => setRate(e.target.value)} />
        <input name="fee_min" size={20} placeholder={`${t("fee_min_yuan")} (${yuan(current.fee_min)})`} value={min} onChange={(e) => setMin(e.target.value)} />
        <button type="submit" className="change-fee">{t("change_fee")}</button>
      </form>
      {error && <p className="error fee-error">{error}</p>}
    </>
  );
}
