CREATE TABLE "audit_checkpoints" (
	"log_id" text NOT NULL,
	"tree_size" integer NOT NULL,
	"root_hash" text NOT NULL,
	"signed_note" text NOT NULL,
	"signed_at" text NOT NULL,
	CONSTRAINT "audit_checkpoints_log_id_tree_size_pk" PRIMARY KEY("log_id","tree_size")
);
--> statement-breakpoint
-- Every checkpoint ever signed is kept: as append-only as the events it vouches for (0001's function).
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
--> statement-breakpoint
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
