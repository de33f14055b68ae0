CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`hash` text NOT NULL,
	`prefix` text NOT NULL,
	`organization_id` text NOT NULL,
	`user_id` text NOT NULL,
	`role` text NOT NULL,
	`label` text,
	`created_at` text NOT NULL,
	`revoked_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_hash` ON `api_keys` (`hash`);--> statement-breakpoint
CREATE TABLE `audit_events` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`at` text NOT NULL,
	`actor` text NOT NULL,
	`organization_id` text,
	`action` text NOT NULL,
	`resource_kind` text,
	`resource_id` text,
	`provider` text,
	`outcome` text NOT NULL,
	`request_id` text,
	`trace_id` text,
	`upstream_http_status` integer,
	`details` text,
	`previous_hash` text,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `audit_events_id` ON `audit_events` (`id`);--> statement-breakpoint
CREATE INDEX `audit_events_org_seq` ON `audit_events` (`organization_id`,`seq`);--> statement-breakpoint
CREATE INDEX `audit_events_resource` ON `audit_events` (`resource_kind`,`resource_id`,`seq`);--> statement-breakpoint
CREATE INDEX `audit_events_org_resource` ON `audit_events` (`organization_id`,`resource_id`,`seq`);--> statement-breakpoint
CREATE TABLE `resources` (
	`kind` text NOT NULL,
	`id` text NOT NULL,
	`provider` text NOT NULL,
	`organization_id` text NOT NULL,
	`owner_id` text NOT NULL,
	`session_id` text,
	`document_id` text,
	`status` text,
	`attributes` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`deleted_at` text,
	`deleted_by` text,
	PRIMARY KEY(`kind`, `id`)
);
--> statement-breakpoint
CREATE INDEX `resources_org_owner` ON `resources` (`organization_id`,`owner_id`);--> statement-breakpoint
CREATE INDEX `resources_session` ON `resources` (`session_id`);--> statement-breakpoint
CREATE INDEX `resources_document` ON `resources` (`document_id`);--> statement-breakpoint
CREATE TABLE `upstream_deletions` (
	`kind` text NOT NULL,
	`resource_id` text NOT NULL,
	`provider` text NOT NULL,
	`organization_id` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`in_progress_attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` text,
	`lease_owner` text,
	`lease_until` text,
	`last_http_status` integer,
	`last_error` text,
	`reason` text,
	`result` text,
	`request_id` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`completed_at` text,
	PRIMARY KEY(`kind`, `resource_id`)
);
--> statement-breakpoint
CREATE INDEX `upstream_due` ON `upstream_deletions` (`status`,`provider`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `upstream_org_status` ON `upstream_deletions` (`organization_id`,`status`,`created_at`);