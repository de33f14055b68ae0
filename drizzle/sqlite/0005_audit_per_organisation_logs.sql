CREATE TABLE `audit_logs` (
	`log_id` text PRIMARY KEY NOT NULL,
	`size` integer NOT NULL,
	`head_hash` text,
	`frontier` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `audit_tree_nodes` (
	`log_id` text NOT NULL,
	`level` integer NOT NULL,
	`node_index` integer NOT NULL,
	`hash` text NOT NULL,
	PRIMARY KEY(`log_id`, `level`, `node_index`)
);
--> statement-breakpoint
DROP INDEX `audit_events_chain_link`;--> statement-breakpoint
ALTER TABLE `audit_events` ADD `log_id` text;--> statement-breakpoint
ALTER TABLE `audit_events` ADD `log_index` integer;--> statement-breakpoint
CREATE UNIQUE INDEX `audit_events_log_index` ON `audit_events` (`log_id`,`log_index`);--> statement-breakpoint
-- Each log is linear: no two of its events claim the same predecessor (nor two the genesis).
-- (drizzle-kit 0.31 splits an expression index at its comma; the expression is written out here.)
-- Rows of the first wave get their log_id and log_index from the data migration that runs right
-- after this one (src/audit/split-logs.ts), which re-links each organisation's events into its log.
CREATE UNIQUE INDEX `audit_events_log_link` ON `audit_events` (`log_id`, coalesce(`previous_hash`, ''));--> statement-breakpoint
-- Stored subtree hashes are as append-only as the events they summarise.
CREATE TRIGGER audit_tree_nodes_no_update BEFORE UPDATE ON audit_tree_nodes
BEGIN
  SELECT RAISE(ABORT, 'audit_tree_nodes is append-only: UPDATE is not allowed');
END;
--> statement-breakpoint
CREATE TRIGGER audit_tree_nodes_no_delete BEFORE DELETE ON audit_tree_nodes
BEGIN
  SELECT RAISE(ABORT, 'audit_tree_nodes is append-only: DELETE is not allowed');
END;
