CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"hash" text NOT NULL,
	"prefix" text NOT NULL,
	"organization_id" text NOT NULL,
	"user_id" text NOT NULL,
	"role" text NOT NULL,
	"label" text,
	"created_at" text NOT NULL,
	"revoked_at" text
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "audit_events_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"log_id" text,
	"log_index" integer,
	"id" text NOT NULL,
	"at" text NOT NULL,
	"actor" text NOT NULL,
	"organization_id" text,
	"action" text NOT NULL,
	"resource_kind" text,
	"resource_id" text,
	"provider" text,
	"outcome" text NOT NULL,
	"request_id" text,
	"trace_id" text,
	"upstream_http_status" integer,
	"details" text,
	"previous_hash" text,
	"hash" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_logs" (
	"log_id" text PRIMARY KEY NOT NULL,
	"size" integer NOT NULL,
	"head_hash" text,
	"frontier" text NOT NULL,
	"updated_at" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_tree_nodes" (
	"log_id" text NOT NULL,
	"level" integer NOT NULL,
	"node_index" integer NOT NULL,
	"hash" text NOT NULL,
	CONSTRAINT "audit_tree_nodes_log_id_level_node_index_pk" PRIMARY KEY("log_id","level","node_index")
);
--> statement-breakpoint
CREATE TABLE "resources" (
	"kind" text NOT NULL,
	"id" text NOT NULL,
	"provider" text NOT NULL,
	"organization_id" text NOT NULL,
	"owner_id" text NOT NULL,
	"session_id" text,
	"document_id" text,
	"status" text,
	"attributes" text,
	"created_at" text NOT NULL,
	"updated_at" text NOT NULL,
	"deleted_at" text,
	"deleted_by" text,
	CONSTRAINT "resources_kind_id_pk" PRIMARY KEY("kind","id")
);
--> statement-breakpoint
CREATE TABLE "upstream_deletions" (
	"kind" text NOT NULL,
	"resource_id" text NOT NULL,
	"provider" text NOT NULL,
	"organization_id" text NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"in_progress_attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" text,
	"lease_owner" text,
	"lease_until" text,
	"last_http_status" integer,
	"last_error" text,
	"reason" text,
	"result" text,
	"request_id" text,
	"created_at" text NOT NULL,
	"queued_at" text,
	"updated_at" text NOT NULL,
	"completed_at" text,
	CONSTRAINT "upstream_deletions_kind_resource_id_pk" PRIMARY KEY("kind","resource_id")
);
--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_hash" ON "api_keys" USING btree ("hash");--> statement-breakpoint
CREATE UNIQUE INDEX "audit_events_id" ON "audit_events" USING btree ("id");--> statement-breakpoint
CREATE INDEX "audit_events_org_seq" ON "audit_events" USING btree ("organization_id","seq");--> statement-breakpoint
CREATE INDEX "audit_events_org_resource" ON "audit_events" USING btree ("organization_id","resource_id","seq");--> statement-breakpoint
CREATE INDEX "audit_events_org_outcome" ON "audit_events" USING btree ("organization_id","outcome","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "audit_events_log_index" ON "audit_events" USING btree ("log_id","log_index");--> statement-breakpoint
CREATE UNIQUE INDEX "audit_events_log_link" ON "audit_events" USING btree ("log_id",coalesce("previous_hash", ''));--> statement-breakpoint
CREATE INDEX "resources_org_owner" ON "resources" USING btree ("organization_id","owner_id");--> statement-breakpoint
CREATE INDEX "resources_session" ON "resources" USING btree ("session_id");--> statement-breakpoint
CREATE INDEX "resources_document" ON "resources" USING btree ("document_id");--> statement-breakpoint
CREATE INDEX "upstream_due" ON "upstream_deletions" USING btree ("status","provider","next_attempt_at");--> statement-breakpoint
CREATE INDEX "upstream_org_status" ON "upstream_deletions" USING btree ("organization_id","status","created_at");