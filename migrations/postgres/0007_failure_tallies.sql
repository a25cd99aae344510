-- Failed attempts per order and activity, kept as each attempt's event is written, so a status read counts an order's
-- retries in one row per activity, however many attempts the order has made (a refund that fails for days).
-- No event may be written between the backfill and the trigger (a worker still running during the upgrade): its
-- failure would be counted by neither. Reads go on; writers wait for this migration.
LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE;
CREATE TABLE failure_tallies (
    order_id  TEXT NOT NULL,
    activity  TEXT NOT NULL,
    failures  BIGINT NOT NULL,
    PRIMARY KEY (order_id, activity)
);
INSERT INTO failure_tallies (order_id, activity, failures)
SELECT order_id, activity, COUNT(*) FROM events
WHERE event_type = 'activity' AND activity IS NOT NULL AND outcome IS NOT NULL
  AND outcome NOT IN ('completed', 'refused')
GROUP BY order_id, activity;
-- A failed attempt: any outcome but `completed` and `refused` (an attempt refused as another run's).
CREATE FUNCTION failure_tallies_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO failure_tallies (order_id, activity, failures) VALUES (NEW.order_id, NEW.activity, 1)
    ON CONFLICT (order_id, activity) DO UPDATE SET failures = failure_tallies.failures + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER failure_tallies_count AFTER INSERT ON events FOR EACH ROW
WHEN (NEW.event_type = 'activity' AND NEW.activity IS NOT NULL AND NEW.outcome IS NOT NULL
      AND NEW.outcome NOT IN ('completed', 'refused'))
EXECUTE FUNCTION failure_tallies_count();
-- An order's newest failures, read without passing its other events. (SQLite's planner takes its
-- `(event_type, order_id)` index for that read, whose entries are in id order too, so it has no such index.)
CREATE INDEX events_failed_idx ON events (order_id, id)
WHERE event_type = 'activity' AND outcome IS NOT NULL AND outcome NOT IN ('completed', 'refused');
