#!/usr/bin/env python3
"""Writes core/api/openapi.json, the API's OpenAPI 3.1 document (served at /v1/openapi.json,
checked against the server by Prism in the tests, and the source of the request schemas the
server validates bodies with).

  python3 core/api/openapi.py            rewrite openapi.json
  python3 core/api/openapi.py --check    exit 1 if openapi.json is not what this writes (a test)

Request-body schemas (New*, *Change, ...) are self-contained (no $ref): the server's JSON Schema
validator reads them as they are.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "openapi.json")


# email_suppressions.reason (migrations 005 and 012).
SUPPRESSION_REASONS = ["hard_bounce", "complaint", "manual", "unsubscribe", "group_unsubscribe"]


def ref(name):
    return {"$ref": "#/components/schemas/" + name}


def problem(description):
    return {"description": description, "content": {"application/problem+json": {"schema": ref("Problem")}}}


def body(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def list_of(key, item):
    return {"type": "object", "required": [key], "properties": {key: {"type": "array", "items": ref(item)}}}


def paged(key, item):
    return {"type": "object", "required": [key, "next_cursor"],
            "properties": {key: {"type": "array", "items": ref(item)}, "next_cursor": {"type": ["string", "null"]}}}


NULLABLE_STRING = {"type": ["string", "null"]}
AUTH = [{"token": []}]
UNAUTHORIZED = problem("missing, unknown, revoked or expired token")


def op(summary, responses, request=None, params=None, security=True, description=None):
    o = {"summary": summary}
    if description:
        o["description"] = description
    if security:
        o["security"] = AUTH
        responses = dict(responses)
        responses.setdefault("401", UNAUTHORIZED)
    if params:
        o["parameters"] = params
    if request is not None:
        o["requestBody"] = {"required": True, "content": {"application/json": {"schema": request}}}
    o["responses"] = responses
    return o


def path_param(name, description):
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": description}


def query_param(name, schema, description):
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


EMAIL_ADDRESS = {"type": "string", "format": "email"}
NEW_EMAIL = {
    "type": "object", "required": ["configuration", "to"], "additionalProperties": False,
    "properties": {
        "configuration": {"type": "string", "format": "uuid"},
        # Addresses are checked at enqueue (RFC 5321's limits, no line break), a 422 naming the
        # field, like every other field that becomes header text.
        "to": {"type": "string", "description": "an email address"}, "to_name": {"type": "string"},
        "cc": {"type": "array", "items": {"type": "string", "description": "an email address"}, "maxItems": 100},
        "bcc": {"type": "array", "items": {"type": "string", "description": "an email address"}, "maxItems": 100},
        "subject": {"type": "string"}, "text": {"type": "string"}, "html": {"type": "string"},
        "template": {"type": "string"}, "data": {"type": "object"},
        "priority": {"type": "integer", "minimum": 0, "maximum": 1000},
        "send_at": {"type": "string", "format": "date-time"},
        "max_retries": {"type": "integer", "minimum": 0, "maximum": 100},
        # Only shapes here: what each field may hold is checked at enqueue, in one place for the
        # API and the CLI (core/queue/message_extras.cpp), and refused with 422 naming the field.
        "attachments": {
            "type": "array", "maxItems": 100,
            "description": "files to attach; with content_id, inline parts the HTML shows as <img src=\"cid:ID\">. "
                           "Refused when the configuration's plugin does not declare attachments or the encoded "
                           "message would exceed its max_message_bytes",
            "items": {
                "type": "object", "required": ["filename", "content"], "additionalProperties": False,
                "properties": {
                    "filename": {"type": "string", "description": "1 to 255 characters, no line break"},
                    "content_type": {"type": "string", "description": "a media type; default: by the file name's extension"},
                    "content": {"type": "string", "contentEncoding": "base64", "description": "the bytes, base64 (RFC 4648)"},
                    "content_id": {"type": "string", "description": "makes it an inline part: printable ASCII without spaces or <>"},
                },
            },
        },
        "headers": {"type": "object", "maxProperties": 50, "additionalProperties": {"type": "string"},
                    "description": "header fields to add: X-*, List-*, In-Reply-To, References, Keywords, Comments, "
                                   "Auto-Submitted, Precedence, Importance, Priority, Sensitivity, Feedback-ID; "
                                   "non-ASCII values are RFC 2047-encoded"},
        "tags": {"type": "array", "maxItems": 10, "items": {"type": "string"},
                 "description": "labels to filter by (GET /v1/emails?tag=): 1 to 64 letters, digits, _ . : -"},
        "list_unsubscribe": {"type": "boolean",
                             "description": "add one-click List-Unsubscribe (RFC 8058) pointing at the server's "
                                            "api.public_url; a POST there suppresses the recipient"},
        "unsubscribe_mailto": dict(EMAIL_ADDRESS, description="a mailto: address in List-Unsubscribe beside the URL"),
        "metadata": {"type": "object", "maxProperties": 20, "additionalProperties": {"type": "string"},
                     "description": "the application's key/value pairs, returned with the email and handed to the "
                                    "plugin (keys like tags, values at most 512 characters)"},
    },
}
PLUGIN_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}
CONFIGURATION_FIELDS = {
    "provider": dict(PLUGIN_NAME, description="the email plugin's name (`mailroom plugins list`); or give a DSN"),
    "dsn": {"type": "string", "description": "a URL in a scheme an email plugin owns (its manifest's dsn), "
                                             "e.g. smtp://USER@HOST:587"},
    "from": EMAIL_ADDRESS, "from_name": {"type": "string"}, "reply_to": EMAIL_ADDRESS,
    "plugin": dict(PLUGIN_NAME, description="the plugin that sends, when not the one named like the provider"),
    "send_window": {"type": ["integer", "null"], "minimum": 1, "maximum": 1000,
                    "description": "sends in flight at once on each host; null: what the plugin declares"},
    "requests_per_second": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 100000,
                            "description": "the most requests a second to the provider, per host; null: what the plugin declares"},
    "daily_limit": {"type": ["integer", "null"], "minimum": 1, "maximum": 1000000,
                    "description": "plugins with a sending quota: sends over any 24 hours; null: the plugin's default"},
    "hourly_limit": {"type": ["integer", "null"], "minimum": 1, "maximum": 1000000,
                     "description": "plugins with a sending quota: sends over any hour; null: the plugin's default"},
    "list_unsubscribe": {"type": "boolean", "description": "its emails carry one-click List-Unsubscribe (RFC 8058) "
                                                           "unless an email says otherwise; needs api.public_url"},
    "unsubscribe_mailto": {"type": ["string", "null"], "description": "a mailto: address beside the one-click URL; null removes it"},
    "settings": {"type": "object", "description": "plugin settings, checked against its config_schema; "
                                                  "merged over the stored ones, null removes one"},
    "secrets": {"type": "object", "writeOnly": True, "additionalProperties": {"type": "string", "minLength": 1},
                "description": "by the names the plugin declares; stored encrypted, never returned"},
}

# Event webhook types (core/webhooks/webhooks.hpp kEventTypes, in that order).
EVENT_TYPES = ["email.sent", "email.deferred", "email.failed", "email.delivered", "email.bounced", "email.complained",
               "email.unsubscribed", "email.opened", "email.clicked", "dns.record.applied", "dns.record.failed",
               "dns.record.invalid"]

SCHEMAS = {
    "Problem": {
        "type": "object", "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": {"type": "object", "properties": {
                "pointer": {"type": "string"}, "message": {"type": "string"}}}},
        },
    },
    "NewEmail": NEW_EMAIL,
    "NewEmails": {
        "type": "object", "required": ["emails"], "additionalProperties": False,
        "properties": {"emails": {"type": "array", "minItems": 1, "maxItems": 1000}},
    },
    "Queued": {
        "type": "object", "required": ["id", "duplicate", "suppressed"],
        "properties": {"id": NULLABLE_STRING, "duplicate": {"type": "boolean"},
                       "suppressed": {"type": "array", "items": {"type": "string"}}, "not_queued": {"type": "string"}},
    },
    "Email": {
        "type": "object", "required": ["id", "status", "to", "subject", "created_at"],
        "properties": {
            "id": {"type": "string"},
            "status": {"enum": ["pending", "queued", "sending", "sent", "failed", "bounced", "spam"]},
            "to": {"type": "string"}, "subject": {"type": "string"}, "configuration": NULLABLE_STRING,
            "message_id": NULLABLE_STRING, "retry_count": {"type": "integer"}, "max_retries": {"type": "integer"},
            "last_error": NULLABLE_STRING, "last_error_kind": {"enum": [None, "transient", "rate_limited", "quota", "auth",
                                                                         "invalid_request", "permanent", "cancelled",
                                                                         "dropped"]},
            "idempotency_key": NULLABLE_STRING, "run_at": {"type": "string"}, "created_at": {"type": "string"},
            "sent_at": NULLABLE_STRING,
            "delivered_at": {"type": ["string", "null"], "description": "when the provider reported it delivered"},
            "bounced_at": {"type": ["string", "null"], "description": "when the provider reported a hard bounce"},
            "bounce_type": {"enum": [None, "hard"]}, "bounce_reason": NULLABLE_STRING,
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "list_unsubscribe": {"type": "boolean"}, "unsubscribe_mailto": NULLABLE_STRING,
            "tags": {"type": "array", "items": {"type": "string"}},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
            "attachments": {"type": "array", "items": {
                "type": "object", "required": ["filename", "content_type", "size"],
                "properties": {"filename": {"type": "string"}, "content_type": {"type": "string"},
                               "content_id": NULLABLE_STRING, "size": {"type": "integer"}}}},
        },
    },
    "DeliveryLog": {
        "type": "object", "required": ["event_type", "created_at"],
        "properties": {
            "event_type": {"enum": ["queued", "sending", "sent", "failed", "bounced", "opened", "clicked", "complained",
                                    "delivered", "deferred", "dropped", "unsubscribed"]},
            "event_status": NULLABLE_STRING, "error_code": NULLABLE_STRING, "error_message": NULLABLE_STRING,
            "provider": NULLABLE_STRING, "created_at": {"type": "string"},
        },
    },
    "NewEmailConfiguration": {
        "type": "object", "required": ["from"], "additionalProperties": False, "properties": CONFIGURATION_FIELDS,
    },
    "EmailConfigurationChange": {
        "type": "object", "additionalProperties": False, "minProperties": 1,
        "properties": dict({k: v for k, v in CONFIGURATION_FIELDS.items() if k not in ("provider", "dsn")},
                           is_active={"type": "boolean"}),
    },
    "EmailConfiguration": {
        "type": "object", "required": ["id", "provider", "from_address", "is_active", "is_verified", "secrets"],
        "properties": {
            "id": {"type": "string"}, "user_id": {"type": "string"}, "provider": {"type": "string"},
            "plugin": {"type": "string"}, "from_address": {"type": "string"}, "from_name": {"type": "string"},
            "reply_to_address": {"type": "string"}, "is_active": {"type": "boolean"}, "is_verified": {"type": "boolean"},
            "send_window": {"type": ["integer", "null"]}, "requests_per_second": {"type": ["number", "null"]},
            "daily_limit": {"type": ["integer", "null"]}, "hourly_limit": {"type": ["integer", "null"]},
            "list_unsubscribe": {"type": "boolean"}, "unsubscribe_mailto": NULLABLE_STRING,
            "verify_unchecked": {"type": "array", "items": {"type": "string"},
                                 "description": "what the last successful verify could not check, one sentence each"},
            "settings": {"type": "object"},
            "secrets": {"type": "object", "description": "which secrets are set, by name (and under which key), never their values",
                        "additionalProperties": {"type": "string"}},
            "created_at": {"type": "string"}, "updated_at": {"type": "string"},
        },
    },
    "TemplateContent": {
        "type": "object", "required": ["subject"], "additionalProperties": False,
        "properties": {"subject": {"type": "string", "minLength": 1}, "text_body": {"type": "string"},
                       "html_body": {"type": "string"}, "description": {"type": "string"},
                       "is_active": {"type": "boolean"}},
    },
    "TemplatePreview": {
        "type": "object", "additionalProperties": False, "properties": {"data": {"type": "object"}},
    },
    "Template": {
        "type": "object", "required": ["id", "name", "subject", "variables", "is_system_template"],
        "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "description": {"type": "string"},
                       "subject": {"type": "string"}, "text_body": {"type": "string"}, "html_body": {"type": "string"},
                       "variables": {"type": "array", "items": {"type": "string"}}, "is_active": {"type": "boolean"},
                       "is_system_template": {"type": "boolean"}},
    },
    "Rendered": {
        "type": "object", "required": ["subject", "text_body", "html_body"],
        "properties": {"subject": {"type": "string"}, "text_body": {"type": "string"}, "html_body": {"type": "string"}},
    },
    "NewSuppression": {
        "type": "object", "required": ["email"], "additionalProperties": False,
        "properties": {"email": EMAIL_ADDRESS, "reason": {"enum": SUPPRESSION_REASONS}},
    },
    "Suppression": {
        "type": "object", "required": ["email", "reason"],
        "properties": {"email": {"type": "string"}, "reason": {"enum": SUPPRESSION_REASONS}},
    },
    "Quota": {
        "type": "object",
        "required": ["configuration_id", "provider", "used", "daily_limit", "daily_used", "hourly_limit", "hourly_used",
                     "is_quota_exceeded"],
        "properties": {"configuration_id": {"type": "string"}, "provider": {"type": "string"},
                       "used": {"type": "boolean", "description": "false: the gate has not counted a send of it yet"},
                       "daily_limit": {"type": "integer"}, "daily_used": {"type": "integer"},
                       "hourly_limit": {"type": "integer"}, "hourly_used": {"type": "integer"},
                       "daily_reset_at": NULLABLE_STRING, "hourly_reset_at": NULLABLE_STRING,
                       "is_quota_exceeded": {"type": "boolean"}, "quota_exceeded_at": NULLABLE_STRING},
    },
    "AuditEntry": {
        "type": "object", "required": ["id", "created_at", "action", "resource_type", "changed_fields", "details"],
        "properties": {"id": {"type": "string"}, "created_at": {"type": "string"}, "user_id": NULLABLE_STRING,
                       "action": {"enum": ["CREATE", "UPDATE", "DELETE"]}, "resource_type": {"type": "string"},
                       "resource_id": NULLABLE_STRING, "changed_fields": {"type": "array", "items": {"type": "string"}},
                       "details": {"type": "object"}},
    },
    "NewDnsZone": {
        "type": "object", "required": ["name", "provider"], "additionalProperties": False,
        "properties": {"name": {"type": "string", "minLength": 3, "maxLength": 253},
                       "provider": dict(PLUGIN_NAME, description="the DNS plugin's name (`mailroom plugins list`)"),
                       "plugin": PLUGIN_NAME,
                       "settings": {"type": "object"},
                       "secrets": {"type": "object", "writeOnly": True, "additionalProperties": {"type": "string"},
                                   "description": "credentials by the names the plugin declares; stored encrypted, never returned"}},
    },
    "DnsZone": {
        "type": "object", "required": ["id", "name", "provider", "secrets"],
        "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "provider": {"type": "string"},
                       "plugin": NULLABLE_STRING, "provider_zone_id": NULLABLE_STRING, "settings": {"type": "object"},
                       "secrets": {"enum": ["(set)", "(none)"]}, "created_at": {"type": "string"}},
    },
    "NewDnsRecord": {
        "type": "object", "required": ["type", "name", "value"], "additionalProperties": False,
        "properties": {"type": {"enum": ["A", "AAAA", "CNAME", "MX", "TXT", "SPF", "DKIM", "DMARC"]},
                       "name": {"type": "string", "minLength": 1}, "value": {"type": "string", "minLength": 1},
                       "ttl": {"type": "integer", "minimum": 1, "maximum": 2147483647},
                       "priority": {"type": "integer", "minimum": 0, "maximum": 65535}},
    },
    "DnsRecord": {
        "type": "object", "required": ["id", "type", "name", "value", "ttl", "status", "desired"],
        "properties": {"id": {"type": "string"}, "type": {"type": "string"}, "name": {"type": "string"},
                       "value": {"type": "string"}, "ttl": {"type": "integer"}, "priority": {"type": ["integer", "null"]},
                       "status": {"enum": ["pending", "active", "failed", "invalid"]},
                       "desired": {"enum": ["present", "absent"]}, "provider_record_id": NULLABLE_STRING,
                       "validation_status": {"enum": ["valid", "mismatch", "missing", "error", None]},
                       "served_value": NULLABLE_STRING, "last_error": NULLABLE_STRING, "validated_at": NULLABLE_STRING},
    },
    "DnsPlan": {
        "type": "object", "required": ["zone", "checksum", "owned", "creates", "updates", "deletes", "unchanged", "unsafe", "changes"],
        "properties": {"zone": {"type": "string"}, "checksum": {"type": "string"}, "owned": {"type": "integer"},
                       "creates": {"type": "integer"}, "updates": {"type": "integer"}, "deletes": {"type": "integer"},
                       "unchanged": {"type": "integer"}, "unsafe": {"type": "boolean"}, "unsafe_reason": {"type": "string"},
                       "changes": {"type": "array", "items": {"type": "object", "required": ["action", "type", "name", "ttl"],
                                   "properties": {"action": {"enum": ["create", "update", "delete", "unchanged"]},
                                                  "record_id": {"type": "string"}, "type": {"type": "string"},
                                                  "name": {"type": "string"}, "value": {"type": "string"},
                                                  "ttl": {"type": "integer"}, "priority": {"type": "integer"},
                                                  "provider_record_id": {"type": "string"}, "held": {"type": "object"},
                                                  "adopt": {"type": "boolean"}, "forget": {"type": "boolean"},
                                                  "record_set": {"type": "object", "description": "a record-set change: the set's values after and now",
                                                                 "properties": {"values": {"type": "array", "items": {"type": "string"}},
                                                                                "held": {"type": "array", "items": {"type": "string"}},
                                                                                "held_ttl": {"type": "integer"}}},
                                                  "record_ids": {"type": "array", "items": {"type": "string"},
                                                                 "description": "a record-set change: the records it writes"}}}}},
    },
    "DnsApply": {
        "type": "object", "additionalProperties": False,
        "properties": {"plan_checksum": {"type": "string", "pattern": "^[0-9a-f]{16}$"}, "force": {"type": "boolean"}},
    },
    "DnsApplyReport": {
        "type": "object", "required": ["plan", "applied", "failed", "errors"],
        "properties": {"plan": ref("DnsPlan"), "applied": {"type": "integer"}, "failed": {"type": "integer"},
                       "errors": {"type": "array", "items": {"type": "string"}},
                       "notes": {"type": "array", "items": {"type": "string"},
                                 "description": "what the plugin said about applied changes, e.g. when the provider had them in sync"}},
    },
    "DnsValidation": {
        "type": "object", "required": ["results"],
        "properties": {"results": {"type": "array", "items": {"type": "object",
                       "required": ["record_id", "type", "name", "validation_status", "served"],
                       "properties": {"record_id": {"type": "string"}, "type": {"type": "string"}, "name": {"type": "string"},
                                      "value": {"type": "string"},
                                      "validation_status": {"enum": ["valid", "mismatch", "missing", "error"]},
                                      "served": {"type": "string"}}}}},
    },
    "EmailSetup": {
        "type": "object", "additionalProperties": False,
        "properties": {"dmarc_policy": {"enum": ["none", "quarantine", "reject"]}, "dmarc_report": EMAIL_ADDRESS,
                       "spf_all": {"enum": ["~all", "-all", "?all"]},
                       "dkim_selector": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,63}$"},
                       "dkim_algorithm": {"enum": ["rsa", "ed25519"]},
                       "mx": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
                       "ttl": {"type": "integer", "minimum": 1, "maximum": 86400}},
    },
    "EmailSetupReport": {
        "type": "object", "required": ["records", "added", "changed", "kept", "spf_lookups", "notes"],
        "properties": {"records": {"type": "array", "items": {"type": "object", "required": ["type", "name", "value", "ttl"],
                       "properties": {"type": {"type": "string"}, "name": {"type": "string"}, "value": {"type": "string"},
                                      "ttl": {"type": "integer"}, "priority": {"type": ["integer", "null"]}}}},
                       "added": {"type": "integer"}, "changed": {"type": "integer"}, "kept": {"type": "integer"},
                       "spf_lookups": {"type": "integer"}, "spf_breakdown": {"type": "array", "items": {"type": "string"}},
                       "notes": {"type": "array", "items": {"type": "string"}}},
    },
    "WebhookOutcome": {
        "type": "object", "required": ["recorded", "duplicates", "unmatched"],
        "properties": {"recorded": {"type": "integer"}, "duplicates": {"type": "integer"}, "unmatched": {"type": "integer"}},
    },
    # Event webhooks to applications (docs/webhooks.md).
    "NewWebhookSubscription": {
        "type": "object", "required": ["url"], "additionalProperties": False,
        "properties": {"url": {"type": "string", "minLength": 1, "maxLength": 2048},
                       "event_types": {"type": "array", "minItems": 1, "uniqueItems": True,
                                       "items": {"enum": EVENT_TYPES}},
                       "description": {"type": "string", "maxLength": 500}},
    },
    "WebhookSubscriptionChange": {
        "type": "object", "additionalProperties": False,
        "properties": {"url": {"type": "string", "minLength": 1, "maxLength": 2048},
                       "event_types": {"type": "array", "minItems": 1, "uniqueItems": True,
                                       "items": {"enum": EVENT_TYPES}},
                       "description": {"type": "string", "maxLength": 500},
                       "status": {"enum": ["active", "paused"]}},
    },
    "WebhookSubscription": {
        "type": "object",
        "required": ["id", "url", "event_types", "description", "status", "paused_reason", "failing_since",
                     "previous_secret_expires_at", "created_at", "updated_at"],
        "properties": {"id": {"type": "string"}, "url": {"type": "string"},
                       "event_types": {"type": "array", "items": {"type": "string"}},
                       "description": NULLABLE_STRING, "status": {"enum": ["active", "paused"]},
                       "paused_reason": NULLABLE_STRING, "failing_since": NULLABLE_STRING,
                       "previous_secret_expires_at": NULLABLE_STRING,
                       "created_at": {"type": "string"}, "updated_at": {"type": "string"},
                       "secret": {"type": "string", "description": "the signing secret: only in the answer that made it"}},
    },
    "WebhookSecretRotation": {
        "type": "object", "additionalProperties": False,
        "properties": {"grace_seconds": {"type": "integer", "minimum": 0, "maximum": 604800,
                                         "description": "how long the old secret still signs (default 86400)"}},
    },
    "WebhookReplay": {
        "type": "object", "required": ["since"], "additionalProperties": False,
        "properties": {"since": {"type": "string", "format": "date-time"}},
    },
    "WebhookAttempt": {
        "type": "object",
        "required": ["id", "webhook_id", "event_type", "attempt", "attempted_at", "status_code", "latency_ms", "outcome",
                     "error", "response"],
        "properties": {"id": {"type": "string"}, "webhook_id": {"type": "string"}, "event_type": {"type": "string"},
                       "attempt": {"type": "integer"}, "attempted_at": {"type": "string"},
                       "status_code": {"type": ["integer", "null"]}, "latency_ms": {"type": "integer"},
                       "outcome": {"enum": ["delivered", "retry_scheduled", "failed", "refused"]},
                       "error": NULLABLE_STRING, "response": NULLABLE_STRING},
    },
    "EmailEvent": {
        "type": "object", "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"enum": [t for t in EVENT_TYPES if t.startswith("email.")]},
            "timestamp": {"type": "string", "format": "date-time"},
            "data": {"type": "object", "required": ["email_id"], "properties": {
                "email_id": {"type": "string"}, "configuration_id": {"type": "string"},
                "recipient": {"type": "string"}, "status": {"type": "string", "description": "the email's status now"},
                "provider": {"type": "string"}, "provider_message_id": {"type": "string"},
                "provider_event_id": {"type": "string"},
                "detail": {"type": "string", "description": "accepted, retry_scheduled, permanent, hard, the clicked URL, ..."},
                "reason": {"type": "string"}, "error_code": {"type": "string"},
                "attempts": {"type": "integer"}, "next_attempt_at": {"type": "string", "format": "date-time"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "metadata": {"type": "object", "additionalProperties": {"type": "string"}}}},
        },
    },
    "DnsRecordEvent": {
        "type": "object", "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"enum": [t for t in EVENT_TYPES if t.startswith("dns.")]},
            "timestamp": {"type": "string", "format": "date-time"},
            "data": {"type": "object", "required": ["record_id", "name", "record_type"], "properties": {
                "record_id": {"type": "string"}, "zone_id": {"type": "string"}, "zone": {"type": "string"},
                "name": {"type": "string"}, "record_type": {"type": "string"}, "value": {"type": "string"},
                "provider": {"type": "string"}, "provider_record_id": {"type": "string"},
                "validation_status": {"type": "string"}, "served_value": {"type": "string"},
                "reason": {"type": "string"}}},
        },
    },
}

ID = [path_param("id", "the email's id")]
CONFIG_ID = [path_param("id", "the configuration's id")]
TEMPLATE = [path_param("name", "the template's name")]
ZONE = [path_param("zone", "the zone's name, e.g. example.com")]
LIMIT = query_param("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "page size (default 50)")
SUBSCRIPTION_ID = [path_param("id", "the subscription's id")]
CURSOR = query_param("cursor", {"type": "string"}, "next_cursor of the previous page")

PATHS = {
    "/healthz": {"get": op("The process is up", {"200": body({"type": "object"}, "up")}, security=False)},
    "/readyz": {"get": op("Database reachable and migrations current",
                          {"200": body({"type": "object"}, "ready"), "503": problem("not ready")}, security=False)},
    "/metrics": {"get": op("Prometheus text format: queue depth by status, sends by provider and outcome, send and "
                           "HTTP latency histograms, HTTP requests by route and code",
                           {"200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}},
                           security=False)},
    "/v1/openapi.json": {"get": op("This document", {"200": body({"type": "object"}, "the document")}, security=False)},
    "/v1/emails": {
        "post": op("Queue one email, or many with {\"emails\": [...]} (all or nothing)", {
            "202": body({"oneOf": [ref("Queued"), {"type": "object", "required": ["emails"], "additionalProperties": False,
                                                   "properties": {"emails": {"type": "array", "items": ref("Queued")}}}]}, "queued"),
            "400": problem("malformed request, naming the field"), "404": problem("no such configuration for this user"),
            "413": problem("body too large"),
            "422": problem("the email cannot be queued (template data missing, bad address, ...)")},
            request={"oneOf": [ref("NewEmail"), {"type": "object", "required": ["emails"], "additionalProperties": False,
                                                 "properties": {"emails": {"type": "array", "minItems": 1, "maxItems": 1000,
                                                                           "items": ref("NewEmail")}}}]},
            params=[{"name": "Idempotency-Key", "in": "header", "required": False,
                     "schema": {"type": "string", "maxLength": 255}}]),
        "get": op("The caller's emails, newest first, with filters and cursor pagination",
                  {"200": body(paged("emails", "Email"), "a page"), "400": problem("bad filter or cursor")},
                  params=[query_param("status", {"enum": ["pending", "queued", "sending", "sent", "failed", "bounced", "spam"]}, "only this status"),
                          query_param("to", {"type": "string"}, "only this recipient"),
                          query_param("configuration", {"type": "string"}, "only this configuration"),
                          query_param("tag", {"type": "string"}, "only emails with this tag"), LIMIT, CURSOR]),
    },
    "/v1/emails/{id}": {"parameters": ID, "get": op("One of the caller's emails", {"200": body(ref("Email"), "the email"),
                                                                                 "404": problem("not the caller's")})},
    "/v1/emails/{id}/logs": {"parameters": ID, "get": op(
        "The email's delivery logs, oldest first",
        {"200": body({"type": "object", "required": ["email_id", "tags", "metadata", "logs"], "properties": {
            "email_id": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
            "logs": {"type": "array", "items": ref("DeliveryLog")}}}, "logs, with the email's tags and metadata"),
         "404": problem("not the caller's")})},
    "/v1/emails/{id}/retry": {"parameters": ID, "post": op(
        "Queue a failed email again (attempts reset)",
        {"200": body(ref("Email"), "queued again"), "404": problem("not the caller's"), "409": problem("the email is not failed")})},
    "/v1/emails/{id}/cancel": {"parameters": ID, "post": op(
        "Cancel a queued email (it ends failed, 'cancelled')",
        {"200": body(ref("Email"), "cancelled"), "404": problem("not the caller's"), "409": problem("the email is not queued")})},
    "/v1/email-configurations": {
        "get": op("The caller's email configurations (never their secrets)",
                  {"200": body(list_of("configurations", "EmailConfiguration"), "configurations")}),
        "post": op("Create a configuration; secrets are write-only", {
            "201": body(ref("EmailConfiguration"), "created"), "400": problem("malformed request, naming the field"),
            "422": problem("the provider's checks refused it, naming the field"), "503": problem("no master key")},
            request=ref("NewEmailConfiguration")),
    },
    "/v1/email-configurations/{id}": {
        "parameters": CONFIG_ID,
        "get": op("One of the caller's configurations", {"200": body(ref("EmailConfiguration"), "the configuration"),
                                                        "404": problem("not the caller's")}),
        "patch": op("Change a configuration; fields not given keep their value", {
            "200": body(ref("EmailConfiguration"), "changed"), "400": problem("malformed request, naming the field"),
            "404": problem("not the caller's"), "422": problem("the provider's checks refused it"), "503": problem("no master key")},
            request=ref("EmailConfigurationChange")),
        "delete": op("Delete a configuration (audited)", {"204": {"description": "deleted"}, "404": problem("not the caller's"),
                                                         "409": problem("emails still refer to it")}),
    },
    "/v1/email-configurations/{id}/verify": {"parameters": CONFIG_ID, "post": op(
        "Check the credentials with the provider (nothing is sent); sets is_verified",
        {"200": body(ref("EmailConfiguration"), "verified"), "404": problem("not the caller's"),
         "422": problem("the provider refused the credentials"), "503": problem("no plugins or master key")})},
    "/v1/templates": {"get": op("The caller's templates and the system's",
                                {"200": body(list_of("templates", "Template"), "templates")})},
    "/v1/templates/{name}": {
        "parameters": TEMPLATE,
        "get": op("A template: the caller's, else the system's of that name",
                  {"200": body(ref("Template"), "the template"), "404": problem("no such template")}),
        "put": op("Create or replace the caller's template (Mustache; its variables are extracted)", {
            "200": body(ref("Template"), "saved"), "400": problem("malformed request, naming the field"),
            "422": problem("the template does not parse")}, request=ref("TemplateContent")),
        "delete": op("Delete the caller's template", {"204": {"description": "deleted"},
                                                     "404": problem("no such template of the caller's")}),
    },
    "/v1/templates/{name}/preview": {"parameters": TEMPLATE, "post": op(
        "Render a template with sample data (strict: a missing variable is an error naming it)",
        {"200": body(ref("Rendered"), "rendered"), "400": problem("malformed request"), "404": problem("no such template"),
         "422": problem("data lacks a variable the template uses")}, request=ref("TemplatePreview"))},
    "/v1/suppressions": {
        "get": op("Addresses the caller never sends to", {"200": body(list_of("suppressions", "Suppression"), "suppressions")}),
        "post": op("Suppress an address", {"201": body(ref("Suppression"), "suppressed"),
                                          "400": problem("malformed request, naming the field")}, request=ref("NewSuppression")),
    },
    "/v1/suppressions/{email}": {"parameters": [path_param("email", "the address")], "delete": op(
        "Send to an address again", {"204": {"description": "removed"}, "404": problem("not suppressed")})},
    "/v1/quota": {"get": op("The sending quota of each of the caller's configurations whose plugin has one",
                            {"200": body(list_of("quotas", "Quota"), "quotas")})},
    "/v1/audit-logs": {"get": op(
        "Audit entries of the caller's configurations, zones and records, newest first",
        {"200": body(paged("entries", "AuditEntry"), "a page"), "400": problem("bad filter")},
        params=[query_param("resource_type", {"enum": ["email_configuration", "dns_record", "dns_zone"]}, "only this kind"),
                query_param("resource_id", {"type": "string"}, "only this resource"), LIMIT, CURSOR])},
    "/v1/dns/zones": {
        "get": op("The caller's DNS zones (never their secrets)", {"200": body(list_of("zones", "DnsZone"), "zones")}),
        "post": op("Add a zone with its DNS plugin and credentials", {
            "201": body(ref("DnsZone"), "added"), "400": problem("malformed request, naming the field"),
            "422": problem("refused: plugin, settings, secrets or name"), "503": problem("no plugins or master key")},
            request=ref("NewDnsZone")),
    },
    "/v1/dns/zones/{zone}": {
        "parameters": ZONE,
        "get": op("One of the caller's zones", {"200": body(ref("DnsZone"), "the zone"), "404": problem("not the caller's")}),
        "delete": op("Forget a zone and its desired records (nothing changes at the provider)",
                     {"204": {"description": "removed"}, "404": problem("not the caller's")}),
    },
    "/v1/dns/zones/{zone}/records": {
        "parameters": ZONE,
        "get": op("Desired records with status, validation and last error",
                  {"200": body(list_of("records", "DnsRecord"), "records"), "404": problem("not the caller's")}),
        "post": op("Add a desired record (pending until applied)", {
            "201": body(ref("DnsRecord"), "added"), "400": problem("malformed request, naming the field"),
            "404": problem("not the caller's"), "422": problem("a bad record, named")}, request=ref("NewDnsRecord")),
    },
    "/v1/dns/zones/{zone}/records/{id}": {"parameters": ZONE + [path_param("id", "the record's id")], "delete": op(
        "Mark a record for deletion at the provider by the next apply",
        {"202": body({"type": "object", "required": ["id", "desired"], "properties": {
            "id": {"type": "string"}, "desired": {"const": "absent"}}}, "marked"),
         "404": problem("not the caller's"), "422": problem("no such record in the zone")})},
    "/v1/dns/zones/{zone}/plan": {"parameters": ZONE, "get": op(
        "Compare desired records with what the provider holds; changes nothing",
        {"200": body(ref("DnsPlan"), "the plan"), "404": problem("not the caller's"),
         "422": problem("records the provider cannot take, or a zone it does not hold"),
         "502": problem("the provider failed")})},
    "/v1/dns/zones/{zone}/apply": {"parameters": ZONE, "post": op(
        "Apply the plan (deletes first); refused when the checksum differs or past the safety limit without force",
        {"200": body(ref("DnsApplyReport"), "applied (see failed and errors)"), "400": problem("malformed request"),
         "404": problem("not the caller's"), "422": problem("refused: checksum or safety limit"),
         "502": problem("the provider failed")}, request=ref("DnsApply"))},
    "/v1/dns/zones/{zone}/validate": {"parameters": ZONE, "post": op(
        "Ask DNS what it serves and record valid / mismatch / missing / error",
        {"200": body(ref("DnsValidation"), "results"), "404": problem("not the caller's")})},
    "/v1/dns/zones/{zone}/email-setup": {"parameters": ZONE, "post": op(
        "Build SPF, DKIM, DMARC and MX records for the configurations sending as the zone's domain",
        {"200": body(ref("EmailSetupReport"), "records built"), "400": problem("malformed request, naming the field"),
         "404": problem("not the caller's"), "422": problem("refused: SPF over 10 lookups, no configuration, ...")},
        request=ref("EmailSetup"))},
    "/v1/webhooks/{configuration}": {"parameters": [path_param("configuration", "the email configuration's id")], "post": op(
        "A provider's delivery events; the configuration's plugin verifies the signature (no bearer token)",
        {"200": body(ref("WebhookOutcome"), "recorded"), "400": problem("events the plugin cannot read"),
         "401": problem("the signature does not verify"),
         "404": problem("no such configuration, or its plugin takes no webhooks"), "503": problem("not ready")},
        request={"description": "the provider's own format"}, security=False)},
    "/v1/webhook-subscriptions": {
        "get": op("The caller's event webhook subscriptions (never their secrets)",
                  {"200": body(list_of("subscriptions", "WebhookSubscription"), "subscriptions")}),
        "post": op("Subscribe a URL to events; the answer holds the signing secret, shown this once", {
            "201": body(ref("WebhookSubscription"), "created, with its secret"),
            "400": problem("malformed request, naming the field"),
            "422": problem("the URL is refused: not https, or it resolves to a loopback, private, link-local or metadata address"),
            "503": problem("no master key")}, request=ref("NewWebhookSubscription")),
    },
    "/v1/webhook-subscriptions/{id}": {
        "parameters": SUBSCRIPTION_ID,
        "get": op("One of the caller's subscriptions", {"200": body(ref("WebhookSubscription"), "the subscription"),
                                                       "404": problem("not the caller's")}),
        "patch": op("Change the URL, event types, description, or pause / resume (status)", {
            "200": body(ref("WebhookSubscription"), "changed"), "400": problem("malformed request, naming the field"),
            "404": problem("not the caller's"), "422": problem("the URL is refused")},
            request=ref("WebhookSubscriptionChange")),
        "delete": op("Delete a subscription and its undelivered events",
                     {"204": {"description": "deleted"}, "404": problem("not the caller's")}),
    },
    "/v1/webhook-subscriptions/{id}/rotate-secret": {"parameters": SUBSCRIPTION_ID, "post": op(
        "A new signing secret, shown once; the old one keeps signing (beside it) for grace_seconds",
        {"200": body(ref("WebhookSubscription"), "rotated, with the new secret"),
         "400": problem("malformed request"), "404": problem("not the caller's"), "503": problem("no master key")},
        request=ref("WebhookSecretRotation"))},
    "/v1/webhook-subscriptions/{id}/attempts": {"parameters": SUBSCRIPTION_ID, "get": op(
        "Delivery attempts, newest first: status, latency, the receiver's answer",
        {"200": body(list_of("attempts", "WebhookAttempt"), "attempts"), "400": problem("bad limit"),
         "404": problem("not the caller's")}, params=[LIMIT])},
    "/v1/webhook-subscriptions/{id}/replay": {"parameters": SUBSCRIPTION_ID, "post": op(
        "Send again the subscription's events since a time, each under its first webhook-id",
        {"200": body({"type": "object", "required": ["requeued"], "properties": {"requeued": {"type": "integer"}}},
                     "how many events go out again"),
         "400": problem("malformed request"), "404": problem("not the caller's")}, request=ref("WebhookReplay"))},
    "/v1/unsubscribe/{token}": {
        "parameters": [path_param("token", "the token of an email's List-Unsubscribe URL")],
        "get": op("A page asking to confirm (opening the link unsubscribes no one)",
                  {"200": {"description": "the page", "content": {"text/html": {"schema": {"type": "string"}}}},
                   "404": problem("not a link this server made, or altered"), "503": problem("not ready")},
                  security=False),
        "post": op("One-click unsubscription (RFC 8058): suppresses the email's recipient for its sender",
                   {"200": {"description": "unsubscribed (again, if it was)",
                            "content": {"text/html": {"schema": {"type": "string"}}}},
                    "404": problem("not a link this server made, or altered"), "503": problem("not ready")},
                   request={"description": "List-Unsubscribe=One-Click (form-encoded), or anything"}, security=False)},
}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "mailroom", "version": "0.1.0",
             "description": "Self-hosted email relay and email-DNS manager. Every /v1 request but webhooks carries a bearer "
                            "API token (mailroom tokens create); an admin token may act for a user with the header "
                            "Mailroom-Act-As: <user id>. A user sees only its own rows (404 otherwise), enforced again by "
                            "PostgreSQL row-level security. Errors are application/problem+json (RFC 9457). See docs/api.md."},
    "servers": [{"url": "/"}],
    "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}, "schemas": SCHEMAS},
    "paths": PATHS,
    # What mailroom POSTs to subscribed URLs (Standard Webhooks: webhook-id, webhook-timestamp,
    # webhook-signature headers; docs/webhooks.md).
    "webhooks": {t: {"post": {
        "summary": "Event " + t,
        "parameters": [{"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
                       for h in ("webhook-id", "webhook-timestamp", "webhook-signature")],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": ref("EmailEvent" if t.startswith("email.") else "DnsRecordEvent")}}},
        "responses": {"2XX": {"description": "received; any other answer, or none within the timeout, is retried"}}}}
        for t in EVENT_TYPES},
}


def main():
    text = json.dumps(DOCUMENT, indent=2) + "\n"
    if "--check" in sys.argv:
        if open(OUT).read() != text:
            print("core/api/openapi.json is not what core/api/openapi.py writes: run python3 core/api/openapi.py", file=sys.stderr)
            sys.exit(1)
        return
    open(OUT, "w").write(text)


if __name__ == "__main__":
    main()
