ALTER TABLE `upstream_deletions` ADD `provider_request_id` text;--> statement-breakpoint
ALTER TABLE `upstream_deletions` ADD `provider_error_code` text;