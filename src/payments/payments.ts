import { toPage } from "../db/paging.ts";
import type { Kysely } from "kysely";
import { activeCardAgreements, getAgreementForPayment, recordCardAgreement } from "../agreements/store.ts";
import { openElements } from "../agreements/vault.ts";
import type { CardAgreementRow, CardRow, Database, MerchantRow, PaymentRow } from "../db/index.ts";
import { claimDeferredNonce, REPLAYED_MESSAGE, StaleConfiguration, type NonceClaim } from "../db/request-nonce.ts";
import { bankByCode } from "../kernel/banks.ts";
import { PaycoreError, invalidRequest, notFound } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import { fen } from "../kernel/money.ts";
import { routePayment, type PaymentRoute } from "../routing/index.ts";
import { callChannel, type PaymentDeps } from "./deps.ts";
import { checkDailyLimits } from "./limits.ts";
import { applyPaymentOutcome, INTENT_GRACE_MS, RESIGN_REQUIRED } from "./outcomes.ts";
import type { PaymentCreateInput } from "./wire.ts";
import { canonicalJson } from "../kernel/canonical-json.ts";
import { screenPayment } from "../risk/index.ts";
import { LIMITS } from "../kernel/limits.ts";
import { insertIntent } from "./intent.ts";
import { whileInFlight } from "./in-flight.ts";

const replayed = () => new PaycoreError("replayed_request", REPLAYED_MESSAGE);

export interface PaymentAnswer {
  status: 200 | 201;
  payment: PaymentRow;
}

/**
 * `POST /v1/payments`. The order is the crash-safe one: check, route, record the intent
 * (committed), call the network outside any transaction, record the outcome (committed). A crash
 * in between leaves a `processing` payment that the sweeper finishes by asking the network.
 *
 * `nonce` is the request's nonce when the route deferred claiming it: the intent's statement
 * claims it (src/payments/intent.ts), and any other write before that claims it first.
 */
export async function createPayment(
  deps: PaymentDeps,
  merchant: MerchantRow,
  input: PaymentCreateInput,
  nonce: NonceClaim | null = null,
  /** Checks the signature and the merchant's status again on current configuration (src/api/merchant-auth.ts). */
  recheck: (() => Promise<void>) | undefined = undefined,
): Promise<PaymentAnswer> {
  const db = deps.ctx.db;
  // Claims the deferred nonce before another write (a sign sync's); answers whether the
  // configuration moved since the request's cached values were read. If it moved, the merchant ID
  // may have been suspended or the key revoked through another process: both are checked again
  // before anything is written (a risk reject on cached rules is also judged again).
  const claimFirst = async (): Promise<boolean> => {
    if (!nonce || nonce.claimed) return false;
    const claimed = await claimDeferredNonce(db, nonce, LIMITS.nonce_ttl_ms);
    if (!claimed.ok) throw replayed();
    const moved = claimed.config_version !== nonce.read_under;
    if (moved) await recheck?.();
    return moved;
  };
  const request_hash = deps.ctx.box.fingerprint("request", canonicalJson({ ...input, out_trade_no: undefined }));
  // One read: an idempotent repeat's payment id, the agreement with its card and the card's network agreements.
  const read = await getAgreementForPayment(db, merchant.merchant_id, input.agreement_id, input.out_trade_no);
  if (!read || read.repeat_payment_id !== null) {
    const existing = await db.selectFrom("payments").selectAll().where("merchant_id", "=", merchant.merchant_id).where("out_trade_no", "=", input.out_trade_no).executeTakeFirst();
    if (existing) {
      if (existing.request_hash !== request_hash) throw new PaycoreError("duplicate_out_trade_no", "out_trade_no was already used with other parameters");
      return { status: 200, payment: refuseDeadAgreement(existing) };
    }
    if (!read) throw notFound("agreement");
  }
  const { agreement, card, held } = read;
  if (agreement.status !== "active") throw new PaycoreError("agreement_inactive", `agreement ${agreement.agreement_id} is ${agreement.status}`);
  if (input.sub_merchant_id) await checkSubMerchant(db, merchant, input.sub_merchant_id);
  const amount = fen(input.amount);
  await checkDailyLimits(db, merchant, card.card_id, amount, deps.ctx.clock.now());
  const route = await resolveRoute(deps, card, amount, claimFirst, held).catch((err: unknown) => refusedForUnbind(db, agreement.agreement_id, err));
  const row = intentRow(deps.ctx.clock.now(), merchant, input, request_hash, card, route);
  // Risk rules and blocklists decide here, once; the intent is recorded under their scope locks.
  const screening = { merchant_id: merchant.merchant_id, card, amount, out_trade_no: input.out_trade_no, payment_id: row.payment_id, created_at: row.created_at, blocked: read.blocked };
  const payment = await screenPayment(
    deps.ctx,
    screening,
    async (handle, counters) => {
      const result = await insertIntent(handle, row, counters, nonce && !nonce.claimed ? nonce : null);
      switch (result.kind) {
        case "inserted":
          return result.payment;
        case "conflict":
          return null;
        case "replayed":
          throw replayed();
        case "stale":
          throw new StaleConfiguration(result.config_version);
      }
    },
    claimFirst,
  );
  if (!payment) {
    // A concurrent request with the same out_trade_no won the insert: answer its payment.
    const other = await db.selectFrom("payments").selectAll().where("merchant_id", "=", merchant.merchant_id).where("out_trade_no", "=", input.out_trade_no).executeTakeFirstOrThrow();
    if (other.request_hash !== request_hash) throw new PaycoreError("duplicate_out_trade_no", "out_trade_no was already used with other parameters");
    return { status: 200, payment: other };
  }
  return { status: 201, payment: refuseDeadAgreement(await sendPayment(deps, payment, "pay", route.network_agreement_no)) };
}

/** A debit the network refused for want of a live agreement is answered as `resign_required`, every time. */
function refuseDeadAgreement(payment: PaymentRow): PaymentRow {
  if (payment.status === "failed" && payment.failure_code === RESIGN_REQUIRED) {
    throw new PaycoreError("resign_required", `${payment.failure_message ?? "the network no longer knows this agreement"} (payment ${payment.payment_id} failed, nothing was debited)`);
  }
  return payment;
}

async function checkSubMerchant(db: Kysely<Database>, merchant: MerchantRow, sub_merchant_id: string): Promise<void> {
  const sub = await db.selectFrom("merchants").select(["parent_merchant_id", "status"]).where("merchant_id", "=", sub_merchant_id).executeTakeFirst();
  if (!sub || sub.parent_merchant_id !== merchant.merchant_id) throw invalidRequest("sub_merchant_id", "not a sub-merchant of this merchant ID");
  if (sub.status !== "active") throw new PaycoreError("merchant_suspended", "the sub-merchant is suspended");
}

/**
 * An unbind that commits while the payment is being routed also rescinds the card's network
 * agreements: routing then finds none. The truth the merchant needs is that the agreement ended.
 */
async function refusedForUnbind(db: Kysely<Database>, agreement_id: string, err: unknown): Promise<never> {
  const now = await db.selectFrom("agreements").select("status").where("agreement_id", "=", agreement_id).executeTakeFirst();
  if (now && now.status !== "active") throw new PaycoreError("agreement_inactive", `agreement ${agreement_id} is ${now.status}`);
  throw err;
}

type UsableRoute = { channel_id: string; card_agreement_id: string; network_agreement_no: string; reason: string };

/**
 * Routing, and the sign sync a unified bank allows when the signing network is not usable.
 * `preloaded`: the card's active network agreements, when the caller read them with the card.
 */
export async function resolveRoute(
  deps: PaymentDeps,
  card: CardRow,
  amount: bigint,
  beforeWrite: () => Promise<unknown> = async () => undefined,
  preloaded?: CardAgreementRow[],
): Promise<UsableRoute> {
  const held = preloaded ?? (await activeCardAgreements(deps.ctx.db, card.card_id));
  const bank = bankByCode(card.bank_code);
  const route: PaymentRoute = routePayment(await deps.channels.views(), { bank_code: card.bank_code, bank_unified: bank?.unified_registries ?? false, agreements: held }, amount);
  switch (route.kind) {
    case "use": {
      const cag = held.find((h) => h.card_agreement_id === route.card_agreement_id)!;
      return { channel_id: route.channel_id, card_agreement_id: route.card_agreement_id, network_agreement_no: cag.network_agreement_no, reason: route.reason };
    }
    case "resign_required":
      throw new PaycoreError("resign_required", route.reason);
    case "unavailable":
      throw new PaycoreError("channel_unavailable", route.reason);
    case "sync":
      await beforeWrite();
      return syncAgreement(deps, card, route);
  }
}

async function syncAgreement(deps: PaymentDeps, card: CardRow, route: Extract<PaymentRoute, { kind: "sync" }>): Promise<UsableRoute> {
  const now = deps.ctx.clock.now();
  const elements = openElements(deps.ctx.box, card);
  const result = await callChannel(deps, route.channel_id, (a) => a.signSync({ txn_id: newId("ntx", now.getTime()), card: { ...elements, id_type: "resident_id" } }));
  switch (result.status) {
    case "succeeded": {
      const cag = await deps.ctx.db.transaction().execute((trx) =>
        recordCardAgreement(trx, { card_id: card.card_id, channel_id: route.channel_id, network_agreement_no: result.agreement_no, verified_elements: null, origin: "synced", now }),
      );
      return { channel_id: route.channel_id, card_agreement_id: cag.card_agreement_id, network_agreement_no: cag.network_agreement_no, reason: route.reason };
    }
    case "failed":
      throw new PaycoreError("resign_required", `${route.channel_id} does not honour the agreement (${result.reason}): the cardholder must sign again`);
    case "pending":
      throw new PaycoreError("channel_unavailable", `sign sync with ${route.channel_id} did not answer; retry`);
  }
}

function intentRow(now: Date, merchant: MerchantRow, input: PaymentCreateInput, request_hash: string, card: CardRow, route: UsableRoute): PaymentRow {
  return {
    payment_id: newId("pay", now.getTime()),
    merchant_id: merchant.merchant_id,
    sub_merchant_id: input.sub_merchant_id ?? null,
    out_trade_no: input.out_trade_no,
    request_hash,
    agreement_id: input.agreement_id,
    card_id: card.card_id,
    channel_id: route.channel_id,
    card_agreement_id: route.card_agreement_id,
    route_reason: route.reason,
    txn_id: newId("ntx", now.getTime()),
    network_txn_id: null,
    amount: fen(input.amount),
    currency: "CNY",
    fee: null,
    network_cost: null,
    status: "processing",
    network_state: "intent",
    failure_code: null,
    failure_message: null,
    description: input.description,
    metadata: input.metadata === undefined ? null : JSON.stringify(input.metadata),
    notify_url: input.notify_url ?? null,
    refunded_amount: 0n,
    query_attempts: 0,
    // The safety net: if this process dies before the outcome is recorded, the sweeper asks.
    next_query_at: new Date(now.getTime() + INTENT_GRACE_MS),
    alert: false,
    created_at: now,
    updated_at: now,
    succeeded_at: null,
    failed_at: null,
  };
}

/**
 * Sends the debit to the network (idempotent there on `txn_id`) and records what it said. The
 * network's agreement number comes from routing on the first send; a resend looks it up.
 */
export async function sendPayment(deps: PaymentDeps, payment: PaymentRow, source: "pay" | "query" = "pay", agreement_no?: string): Promise<PaymentRow> {
  const network_agreement_no =
    agreement_no ??
    (await deps.ctx.db.selectFrom("card_agreements").select(["network_agreement_no"]).where("card_agreement_id", "=", payment.card_agreement_id!).executeTakeFirstOrThrow()).network_agreement_no;
  // The network's notification of this debit waits for this call instead of racing it (in-flight.ts).
  return whileInFlight(deps.ctx.db, payment.channel_id!, payment.txn_id, async () => {
    const result = await callChannel(deps, payment.channel_id!, (a) =>
      a.pay({ txn_id: payment.txn_id, order_id: payment.payment_id, agreement_no: network_agreement_no, amount_fen: payment.amount, description: payment.description }),
    );
    return applyPaymentOutcome(deps, payment, result, source);
  });
}

/**
 * A payment as the caller may read it: its own, or one made for it as a sub-merchant (the parent
 * owns and refunds it; the sub-merchant sees it, as its books hold it).
 */
export async function readPayment(db: Kysely<Database>, caller: string, payment_id: string): Promise<PaymentRow> {
  const row = await db
    .selectFrom("payments")
    .selectAll()
    .where("payment_id", "=", payment_id)
    .where((eb) => eb.or([eb("merchant_id", "=", caller), eb("sub_merchant_id", "=", caller)]))
    .executeTakeFirst();
  if (!row) throw notFound("payment");
  return row;
}

export async function getPayment(db: Kysely<Database>, merchant_id: string, payment_id: string): Promise<PaymentRow> {
  const row = await db.selectFrom("payments").selectAll().where("payment_id", "=", payment_id).where("merchant_id", "=", merchant_id).executeTakeFirst();
  if (!row) throw notFound("payment");
  return row;
}

export interface PaymentQuery {
  out_trade_no?: string | undefined;
  status?: PaymentRow["status"] | undefined;
  created_from?: string | undefined;
  created_to?: string | undefined;
  cursor?: string | undefined;
  /** Already checked to be the caller itself or one of its sub-merchants. */
  sub_merchant_id?: string | undefined;
  limit: number;
}

export async function listPayments(db: Kysely<Database>, merchant_id: string, q: PaymentQuery) {
  // The caller's own payments and, for a sub-merchant, those its parent made for it: two scans,
  // each in payment_id order on its own index ((merchant_id, payment_id); (sub_merchant_id,
  // payment_id), migration 1902), merged. One scan with `merchant_id = $1 OR sub_merchant_id = $1`
  // walked the primary key backwards and filtered, reading every newer payment of every merchant
  // ID until it found a page: 232 ms on 242,000 payments for a merchant ID that pays rarely.
  const branch = (column: "merchant_id" | "sub_merchant_id") => {
    let b = db.selectFrom("payments").selectAll().where(column, "=", merchant_id);
    if (column === "sub_merchant_id") b = b.where("merchant_id", "<>", merchant_id);
    if (q.sub_merchant_id) b = b.where("sub_merchant_id", "=", q.sub_merchant_id);
    if (q.out_trade_no) b = b.where("out_trade_no", "=", q.out_trade_no);
    if (q.status) b = b.where("status", "=", q.status);
    if (q.created_from) b = b.where("created_at", ">=", new Date(q.created_from));
    if (q.created_to) b = b.where("created_at", "<", new Date(q.created_to));
    if (q.cursor) b = b.where("payment_id", "<", q.cursor);
    return db.selectFrom(b.orderBy("payment_id", "desc").limit(q.limit + 1).as("page")).selectAll();
  };
  const rows = await db
    .selectFrom(branch("merchant_id").unionAll(branch("sub_merchant_id")).as("both"))
    .selectAll()
    .orderBy("payment_id", "desc")
    .limit(q.limit + 1)
    .execute();
  return toPage(rows, q.limit, (r) => r.payment_id);
}
