-- Failed attempts per order and activity, kept as each attempt's event is written, so a status read counts an order's
-- retries in one row per activity, however many attempts the order has made (a refund that fails for days).
CREATE TABLE failure_tallies (
    order_id  TEXT NOT NULL,
    activity  TEXT NOT NULL,
    failures  INTEGER NOT NULL,
    PRIMARY KEY (order_id, activity)
);
INSERT INTO failure_tallies (order_id, activity, failures)
SELECT order_id, activity, COUNT(*) FROM events
WHERE event_type = 'activity' AND activity IS NOT NULL AND outcome IS NOT NULL
  AND outcome NOT IN ('completed', 'refused')
GROUP BY order_id, activity;
-- A failed attempt: any outcome but `completed` and `refused` (an attempt refused as another run's).
CREATE TRIGGER failure_tallies_count AFTER INSERT ON events
WHEN NEW.event_type = 'activity' AND NEW.activity IS NOT NULL AND NEW.outcome IS NOT NULL
  AND NEW.outcome NOT IN ('completed', 'refused')
BEGIN
    INSERT INTO failure_tallies (order_id, activity, failures) VALUES (NEW.order_id, NEW.activity, 1)
    ON CONFLICT (order_id, activity) DO UPDATE SET failures = failures + 1;
END;
