-- A payment's intent is recorded only while its agreement is active, and the check is ordered
-- with the unbind: it takes the agreement row's share lock, so an unbind (which locks the row for
-- update before it stamps unbound_at) waits for the intent to commit, and an intent waits for a
-- running unbind; under READ COMMITTED the locked re-read then sees the committed `unbound`. A
-- payment is either recorded wholly before the unbind (and may be sent) or refused: none recorded
-- after an unbind is ever sent. In the database so that every path creating a payment gets it.
CREATE FUNCTION payments_require_active_agreement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM agreements WHERE agreement_id = NEW.agreement_id AND status = 'active' FOR SHARE;
  IF NOT FOUND THEN
    -- SQLSTATE PC001: paycore maps it to agreement_inactive (src/payments/payments.ts).
    RAISE EXCEPTION 'agreement % is not active', NEW.agreement_id USING ERRCODE = 'PC001';
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER payments_agreement_active BEFORE INSERT ON payments
  FOR EACH ROW EXECUTE FUNCTION payments_require_active_agreement();
