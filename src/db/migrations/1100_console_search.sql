-- The console's agreement search (GET /admin/v1/agreements): by user_ref across merchant IDs, by
-- the card's last four digits, by bank. Never by a full card number (the vault only has it sealed).
CREATE INDEX agreements_user_ref_idx ON agreements (user_ref);
CREATE INDEX cards_last4_idx ON cards (last4);
CREATE INDEX cards_bank_code_idx ON cards (bank_code);
