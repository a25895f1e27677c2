#include "common.hpp"
MAILROOM_PLUGIN_MANIFEST_RECORD(998, "clang+libc++", "email", MINIMAL_MANIFEST("abi_and_toolchain_mismatch"))
MAILROOM_EXPORT_EMAIL_FACTORY(MinimalEmail)
