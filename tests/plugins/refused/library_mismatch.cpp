// Built as if against other Boost and nlohmann_json versions than the host's: same compiler
// and standard library, but the types crossing the boundary would differ.
#include "common.hpp"
MAILROOM_PLUGIN_MANIFEST_RECORD(MAILROOM_ABI_VERSION,
                                MAILROOM_DETAIL_COMPILER_FAMILY "+" MAILROOM_DETAIL_STDLIB "+boost-1_74+nlohmann_json-3.9.1",
                                "email", MINIMAL_MANIFEST("library_mismatch"))
MAILROOM_EXPORT_EMAIL_FACTORY(MinimalEmail)
