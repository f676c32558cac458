import { useCallback, useEffect, useState } from "react";
import { api, query, type Page } from "../api.ts";
import { useT } from "../i18n.ts";

/** A list that pages through the API's cursors: first page on load, "next page" appends. */
export function useCursorList<T>(path: string, params: Record<string, string | number | undefined>) {
  const [rows, setRows] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(false);
  const key = JSON.stringify(params);
  const load = useCallback(
    async (from: string | null) => {
      setLoading(true);
      try {
        const res = await api<Page<T>>("GET", path + query({ ...JSON.parse(key), limit: 20, cursor: from ?? undefined }));
        setRows((old) => (from ? [...old, ...res.body.data] : res.body.data));
        setCursor(res.body.next_cursor);
        setError("");
      } catch (err) {
        setError((err as Error).message);
      } finally {
        setLoading(false);
      }
    },
    [path, key],
  );
  useEffect(() => void load(null), [load]);
  return { rows, error, loading, more: cursor ? () => load(cursor) : null, reload: () => load(null) };
}

export function More({ more, loading }: { more: (() => void) | null; loading: boolean }) {
  const t = useT();
  if (loading) return <p className="progress">{t("loading")}</p>;
  return more ? <button className="more" onClick={more}>{t("next")}</button> : null;
}

export function Err({ error }: { error: string }) {
  return error ? <p className="error">{error}</p> : null;
}

export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : "—");
