ALTER TABLE "upstream_deletions" ADD COLUMN "provider_request_id" text;--> statement-breakpoint
ALTER TABLE "upstream_deletions" ADD COLUMN "provider_error_code" text;