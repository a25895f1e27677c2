#include "common.hpp"
MAILROOM_PLUGIN_MANIFEST_RECORD(MAILROOM_ABI_VERSION, "msvc+msvc-stl", "email",
                                MINIMAL_MANIFEST("toolchain_mismatch"))
MAILROOM_EXPORT_EMAIL_FACTORY(MinimalEmail)
