-- Balances without hot rows (docs/ledger.md "Balances: no hot rows"). A posting appends its
-- entry and lines and, for each account it moves, a row here, in the business transaction; it no
-- longer updates the account's kept totals there. One applier at a time (a transaction-scoped
-- advisory lock is its lease) folds these rows into ledger_accounts in batches: delete and update
-- in one statement, so every snapshot sees each amount exactly once, in one place or the other.
-- An account's exact balance is its kept totals plus its rows here: the view ledger_balances.
--
-- Accounts with a floor (merchant_available, never negative) are the exception: their postings
-- update the kept totals in the business transaction, so the row lock and the CHECK on
-- ledger_accounts keep guarding them. They are per merchant and never on the payment path.
CREATE TABLE ledger_unapplied (
  seq           bigserial PRIMARY KEY,
  account_code  text NOT NULL REFERENCES ledger_accounts(account_code),
  debits        bigint NOT NULL CHECK (debits >= 0),
  credits       bigint NOT NULL CHECK (credits >= 0),
  -- The journal entry the amounts come from (for tracing; the journal is the record).
  entry_id      text NOT NULL
);
CREATE INDEX ledger_unapplied_account_idx ON ledger_unapplied (account_code);

CREATE VIEW ledger_balances AS
  SELECT a.account_code, a.kind, a.account_type, a.owner_id,
         (a.debits + coalesce(u.debits, 0))::int8 AS debits,
         (a.credits + coalesce(u.credits, 0))::int8 AS credits,
         a.created_at, a.updated_at
    FROM ledger_accounts a
    LEFT JOIN (SELECT account_code, sum(debits) AS debits, sum(credits) AS credits
                 FROM ledger_unapplied GROUP BY account_code) u
      ON u.account_code = a.account_code;
