CREATE TABLE `erasure_items` (
	`request_id` text NOT NULL,
	`kind` text NOT NULL,
	`resource_id` text NOT NULL,
	`provider` text NOT NULL,
	`carrier_kind` text NOT NULL,
	`carrier_id` text NOT NULL,
	`already_deleted` integer NOT NULL,
	PRIMARY KEY(`request_id`, `kind`, `resource_id`)
);
--> statement-breakpoint
CREATE INDEX `erasure_items_carrier` ON `erasure_items` (`carrier_kind`,`carrier_id`);--> statement-breakpoint
CREATE TABLE `erasure_requests` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`subject_id` text NOT NULL,
	`requested_by` text NOT NULL,
	`reason` text,
	`idempotency_key` text,
	`requested_at` text NOT NULL,
	`completed_at` text
);
--> statement-breakpoint
CREATE INDEX `erasure_requests_org_requested` ON `erasure_requests` (`organization_id`,`requested_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `erasure_requests_idempotency` ON `erasure_requests` (`organization_id`,`idempotency_key`);