// Claims the DSN scheme smtp, which smtp_relay owns.
#include "common.hpp"
MAILROOM_EMAIL_PLUGIN(MinimalEmail, R"json({"name": "scheme_taken", "version": "1", "description": "refusal test",
  "config_schema": {"type": "object", "properties": {"host": {"type": "string"}}},
  "dsn": {"smtp": {"host": "host"}}})json")
