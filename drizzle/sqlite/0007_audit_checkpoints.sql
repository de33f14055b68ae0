CREATE TABLE `audit_checkpoints` (
	`log_id` text NOT NULL,
	`tree_size` integer NOT NULL,
	`root_hash` text NOT NULL,
	`signed_note` text NOT NULL,
	`signed_at` text NOT NULL,
	PRIMARY KEY(`log_id`, `tree_size`)
);
--> statement-breakpoint
-- Every checkpoint ever signed is kept: as append-only as the events it vouches for.
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
  SELECT RAISE(ABORT, 'audit_checkpoints is append-only: UPDATE is not allowed');
END;
--> statement-breakpoint
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
  SELECT RAISE(ABORT, 'audit_checkpoints is append-only: DELETE is not allowed');
END;
