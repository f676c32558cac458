-- A notification to an internal address (SSRF guard) is recorded as `refused`, not attempted.
ALTER TABLE notify_attempts DROP CONSTRAINT notify_attempts_result_check;
ALTER TABLE notify_attempts ADD CONSTRAINT notify_attempts_result_check CHECK (result IN (
  'in_flight', 'acknowledged', 'http_error', 'timeout', 'network_error', 'no_key', 'abandoned', 'refused'));
