import { useCallback, useEffect, useRef, useState } from "react";
import { api, query, type Page } from "../api.ts";
import { useT, type Key } from "../i18n.ts";

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

/** Calls `tick` every `ms` while `active` (a run in progress); stops when it is not. */
export function usePoll(active: boolean, tick: () => void, ms: number) {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    if (!active) return;
    const id = setInterval(() => latest.current(), ms);
    return () => clearInterval(id);
  }, [active, ms]);
}

/**
 * A run's progress: a bar of `value` of `max` (max null: not known yet, the browser draws a moving
 * bar), the phase in words and the counts. A finished run shows a full bar, so it has one too.
 */
export function ProgressBar(p: { phase: string | null; value: number; max: number | null; detail: string; failed?: boolean }) {
  const t = useT();
  const words = p.phase ? (DICT_HAS(t, `phase_${p.phase}`) ? t(`phase_${p.phase}` as Key) : p.phase) : "—";
  return (
    <span className={`run-progress${p.failed ? " error" : ""}`} data-phase={p.phase ?? ""} data-value={p.value} data-max={p.max ?? ""}>
      {p.max === null ? <progress /> : <progress value={p.phase === "done" ? Math.max(p.max, 1) : Math.min(p.value, p.max)} max={Math.max(p.max, 1)} />}{" "}
      <span className="run-progress-text">{words}{p.detail ? ` · ${p.detail}` : ""}</span>
    </span>
  );
}

const DICT_HAS = (t: (k: Key) => string, k: string) => typeof t(k as Key) === "string";
