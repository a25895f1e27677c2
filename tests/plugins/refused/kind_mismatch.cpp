// Declares itself a DNS plugin but exports an email factory.
#include "common.hpp"
MAILROOM_PLUGIN_MANIFEST_RECORD(MAILROOM_ABI_VERSION, MAILROOM_TOOLCHAIN_TAG, "dns",
                                MINIMAL_MANIFEST("kind_mismatch"))
MAILROOM_EXPORT_EMAIL_FACTORY(MinimalEmail)
