-- A payment's intent ran three foreign-key checks at the end of its statement (merchant ID,
-- agreement, card), each an executor run of its own that reads the parent through its primary key
-- and locks it FOR KEY SHARE. The merchant ID's row is shared by every payment of the merchant ID,
-- so its lock was a WAL record on a hot page and a multixact whenever two intents held it at once;
-- the card's was the same for a card's payments. The intent's trigger (migration 0610) already
-- reads the agreement's row and locks it FOR SHARE (a stronger lock than the key's); it now also
-- proves what the three keys proved, without another read or lock (docs/performance.md, "Sixth
-- round: PostgreSQL's CPU per payment"):
-- - the agreement exists: the trigger refuses a payment whose agreement it cannot find active, as
--   before, and holds the row's share lock until the payment commits;
-- - the merchant ID and the card exist: the trigger refuses a payment whose merchant ID or card is
--   not its agreement's, and the agreement's own keys (agreements → merchants, agreements →
--   cards, kept) prove that those exist and keep them from being deleted or renamed;
-- - it stays so: agreements are never deleted or truncated and their agreement_id, merchant_id and
--   card_id never change (triggers below; paycore only moves an agreement's status), and a
--   payment's merchant_id, agreement_id and card_id never change either. So every payment names
--   an agreement that exists, and through it a merchant ID and a card that exist, for as long as
--   the payment does: what the keys guaranteed, and one thing more (the three agree).
-- paycore has always taken the merchant ID and the card from the agreement it read for the
-- payment (src/agreements/store.ts, agreementForPayment), so the payments already recorded agree
-- with their agreements. The sub-merchant's key stays (NULL on most payments: no check then).
ALTER TABLE payments DROP CONSTRAINT payments_merchant_id_fkey;
ALTER TABLE payments DROP CONSTRAINT payments_agreement_id_fkey;
ALTER TABLE payments DROP CONSTRAINT payments_card_id_fkey;

CREATE OR REPLACE FUNCTION payments_require_active_agreement() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  a record;
BEGIN
  SELECT merchant_id, card_id INTO a FROM agreements WHERE agreement_id = NEW.agreement_id AND status = 'active' FOR SHARE;
  IF NOT FOUND THEN
    -- SQLSTATE PC001: paycore maps it to agreement_inactive (src/payments/payments.ts).
    RAISE EXCEPTION 'agreement % is not active', NEW.agreement_id USING ERRCODE = 'PC001';
  END IF;
  IF a.merchant_id IS DISTINCT FROM NEW.merchant_id OR a.card_id IS DISTINCT FROM NEW.card_id THEN
    RAISE EXCEPTION 'payment % names merchant ID % and card %, but agreement % is merchant ID %''s with card %',
      NEW.payment_id, NEW.merchant_id, NEW.card_id, NEW.agreement_id, a.merchant_id, a.card_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NEW;
END;
$$;

CREATE FUNCTION agreements_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'agreements are never removed and their agreement_id, merchant_id and card_id never change: % on % is not allowed', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER agreements_no_delete BEFORE DELETE ON agreements
  FOR EACH ROW EXECUTE FUNCTION agreements_keep();
CREATE TRIGGER agreements_no_truncate BEFORE TRUNCATE ON agreements
  FOR EACH STATEMENT EXECUTE FUNCTION agreements_keep();
CREATE TRIGGER agreements_references_fixed AFTER UPDATE OF agreement_id, merchant_id, card_id ON agreements
  FOR EACH ROW WHEN (NEW.agreement_id IS DISTINCT FROM OLD.agreement_id OR NEW.merchant_id IS DISTINCT FROM OLD.merchant_id OR NEW.card_id IS DISTINCT FROM OLD.card_id)
  EXECUTE FUNCTION agreements_keep();

CREATE FUNCTION payments_references_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'a payment''s merchant_id, agreement_id and card_id never change (payment %)', OLD.payment_id
    USING ERRCODE = 'restrict_violation';
END;
$$;
-- AFTER, not BEFORE: a BEFORE ROW UPDATE trigger makes PostgreSQL lock every updated payment row
-- before the update (one more row lock and WAL record per outcome), even when the UPDATE names
-- none of these columns; an AFTER trigger whose columns the UPDATE does not name queues nothing.
CREATE TRIGGER payments_references_fixed AFTER UPDATE OF merchant_id, agreement_id, card_id ON payments
  FOR EACH ROW WHEN (NEW.merchant_id IS DISTINCT FROM OLD.merchant_id OR NEW.agreement_id IS DISTINCT FROM OLD.agreement_id OR NEW.card_id IS DISTINCT FROM OLD.card_id)
  EXECUTE FUNCTION payments_references_keep();
