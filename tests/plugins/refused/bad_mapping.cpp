// Maps its DSN's password to a secret it does not declare.
#include "common.hpp"
MAILROOM_EMAIL_PLUGIN(MinimalEmail, R"json({"name": "bad_mapping", "version": "1", "description": "refusal test",
  "config_schema": true, "secrets": ["key"], "dsn": {"bad": {"password": "password"}}})json")
