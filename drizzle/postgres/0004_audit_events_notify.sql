-- The change feed behind subscriptions (src/live/feed.ts, src/db/postgres/events.ts): every audit
-- event about a resource NOTIFYs its key, `KIND:id`, on channel sdg_audit_events. PostgreSQL delivers
-- a notification when the transaction commits, in commit order, to every listening session of every
-- process (gateway serve, gateway worker, other instances); identical keys within one transaction
-- arrive once. Nothing here is relied on for order across transactions: a stream re-reads its state.
CREATE FUNCTION audit_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.resource_kind IS NOT NULL AND NEW.resource_id IS NOT NULL THEN
    PERFORM pg_notify('sdg_audit_events', NEW.resource_kind || ':' || NEW.resource_id);
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER audit_events_notify AFTER INSERT ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_notify();
