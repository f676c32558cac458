-- Four eyes (maker-checker): a change that moves money's destination or releases money is first
-- recorded here as a proposal by one operator and applied only when another approves it.
CREATE TABLE proposals (
  proposal_id   text PRIMARY KEY,
  kind          text NOT NULL,
  target_type   text NOT NULL,
  target_id     text NOT NULL,
  -- The change itself, sealed (it may carry an account number); `summary` is what people see.
  payload_enc   text NOT NULL,
  summary       jsonb NOT NULL,
  status        text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
  proposed_by   text NOT NULL REFERENCES operators(operator_id),
  proposed_at   timestamptz NOT NULL,
  decided_by    text REFERENCES operators(operator_id),
  decided_at    timestamptz,
  decision_note text,
  result        jsonb,
  CHECK ((status = 'pending') = (decided_by IS NULL)),
  -- The database refuses self-approval too, not only the code.
  CHECK (status <> 'approved' OR decided_by <> proposed_by)
);
CREATE INDEX proposals_status_idx ON proposals (status, proposal_id);
CREATE INDEX proposals_target_idx ON proposals (target_type, target_id);
