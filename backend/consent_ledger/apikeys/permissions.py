"""What an API key may do: one permission per kind of brand endpoint. A key opens only the endpoints of
the permissions it was made with; managing keys themselves needs the brand's wallet sign-in."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    PERMISSIONS_READ = "permissions:read"
    RELEASES_REQUEST = "releases:request"
    RECEIPTS_READ = "receipts:read"
    INSIGHTS_QUERY = "insights:query"
    WEBHOOKS_MANAGE = "webhooks:manage"


DESCRIPTIONS: dict[Permission, str] = {
    Permission.PERMISSIONS_READ: "check customers' grants (POST /v1/permissions/check, GET /v1/segments)",
    Permission.RELEASES_REQUEST: "request customers' data (POST /v1/releases)",
    Permission.RECEIPTS_READ: "read your release receipts (GET /v1/releases)",
    Permission.INSIGHTS_QUERY: "aggregate insights and their budget (POST /v1/insights, GET /v1/insights/budget)",
    Permission.WEBHOOKS_MANAGE: "your webhook endpoints, secrets, deliveries and acknowledgements (/v1/webhooks/...)",
}
