// A manifest that misses "description" and declares an unknown capability.
#include "common.hpp"
MAILROOM_EMAIL_PLUGIN(MinimalEmail, R"json({"name": "bad_manifest", "version": "1",
  "config_schema": true, "capabilities": {"teleport": true}})json")
