import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { api, session } from "./api.ts";
import { LangContext, useT, type Lang } from "./i18n.ts";
import { Audit, Channels, Payouts, Proposals, Settlement } from "./pages/ops.tsx";
import { Risk } from "./pages/risk.tsx";
import { Merchants } from "./pages/merchants.tsx";
import { Agreements } from "./pages/agreements.tsx";
import { Overview } from "./pages/overview.tsx";
import { Payments } from "./pages/payments.tsx";
import { Reconciliation } from "./pages/reconciliation.tsx";
import { SessionContext, type Session } from "./session.ts";
import "./style.css";

const PAGES = ["overview", "merchants", "agreements", "payments", "payouts", "settlement", "reconciliation", "channels", "proposals", "risk", "audit"] as const;
type PageName = (typeof PAGES)[number];

function SignIn({ onDone }: { onDone: (s: Session) => void }) {
  const t = useT();
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  const submit = async () => {
    session.set(token.trim());
    try {
      onDone((await api<Session>("GET", "/admin/v1/session")).body);
    } catch (err) {
      session.clear();
      setError((err as Error).message);
    }
  };
  return (
    <form className="signin" onSubmit={(e) => (e.preventDefault(), void submit())}>
      <h1>{t("title")}</h1>
      <label>
        {t("token")} <input id="token" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} />
      </label>
      <button id="signin" type="submit">{t("signin")}</button>
      {error && <p className="error">{error}</p>}
    </form>
  );
}

function App() {
  const [lang, setLang] = useState<Lang>((localStorage.getItem("paycore.console.lang") as Lang) ?? "zh");
  const [me, setMe] = useState<Session | null>(null);
  const [signed, setSigned] = useState(Boolean(session.token()));
  // A token kept in the tab from before: ask again who it is (and sign out if it no longer works).
  useEffect(() => {
    if (signed && !me) void api<Session>("GET", "/admin/v1/session").then((r) => setMe(r.body), () => (session.clear(), setSigned(false)));
  }, [signed, me]);
  const [page, setPage] = useState<PageName>("overview");
  const switchLang = () => {
    const next = lang === "zh" ? "en" : "zh";
    localStorage.setItem("paycore.console.lang", next);
    document.documentElement.lang = next === "zh" ? "zh-CN" : "en";
    setLang(next);
  };
  return (
    <LangContext.Provider value={lang}>
      <SessionContext.Provider value={me}>
        <Shell lang={lang} signed={signed && me !== null} me={me} page={page} setPage={setPage} switchLang={switchLang} signOut={() => (session.clear(), setMe(null), setSigned(false))} onSignedIn={(s) => (setMe(s), setSigned(true))} />
      </SessionContext.Provider>
    </LangContext.Provider>
  );
}

function Shell(p: { lang: Lang; signed: boolean; me: Session | null; page: PageName; setPage: (x: PageName) => void; switchLang: () => void; signOut: () => void; onSignedIn: (s: Session) => void }) {
  const t = useT();
  return (
    <div className="app">
      <header>
        <strong>paycore</strong>
        {p.signed && PAGES.map((name) => (
          <button key={name} id={`nav-${name}`} className={name === p.page ? "active" : ""} onClick={() => p.setPage(name)}>
            {t(name)}
          </button>
        ))}
        <span className="spacer" />
        {p.signed && p.me && <span id="whoami">{p.me.name} · {t(`role_${p.me.role}`)}</span>}
        <button id="lang" onClick={p.switchLang}>{t("lang")}</button>
        {p.signed && <button id="signout" onClick={p.signOut}>{t("signout")}</button>}
      </header>
      <main>{p.signed ? <PageView page={p.page} /> : <SignIn onDone={p.onSignedIn} />}</main>
    </div>
  );
}

function PageView({ page }: { page: PageName }) {
  switch (page) {
    case "overview": return <Overview />;
    case "merchants": return <Merchants />;
    case "agreements": return <Agreements />;
    case "payments": return <Payments />;
    case "payouts": return <Payouts />;
    case "settlement": return <Settlement />;
    case "reconciliation": return <Reconciliation />;
    case "channels": return <Channels />;
    case "proposals": return <Proposals />;
    case "risk": return <Risk />;
    case "audit": return <Audit />;
  }
}

createRoot(document.getElementById("root")!).render(<StrictMode><App /></StrictMode>);
