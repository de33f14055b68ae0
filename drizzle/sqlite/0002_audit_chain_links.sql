CREATE INDEX `audit_events_org_outcome` ON `audit_events` (`organization_id`,`outcome`,`seq`);--> statement-breakpoint
-- The chain is linear: no two events claim the same predecessor (nor two the genesis).
-- (drizzle-kit 0.31 splits an expression index at its comma; the expression is written out here.)
CREATE UNIQUE INDEX `audit_events_chain_link` ON `audit_events` (coalesce(`previous_hash`, ''));
