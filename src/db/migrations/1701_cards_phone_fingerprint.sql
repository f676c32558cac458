-- The card row carries the keyed fingerprint of its phone, as it already carries those of its
-- number (card_fingerprint) and its holder's ID number (id_fingerprint): the same HMAC the
-- blocklist keeps (src/risk/blocklist.ts), so a payment's first read (the agreement with its card,
-- src/agreements/store.ts) also finds the blocklist entries naming the card, the person or the
-- phone, without a statement of its own and without decrypting anything. Written with the card
-- (src/agreements/vault.ts); a card stored before this migration has NULL until its next payment
-- fills it (the payment then reads the blocklist for the phone by a statement of its own).
ALTER TABLE cards ADD COLUMN phone_fingerprint text;
