// Takes the name of tests/plugins/test_email.cpp.
#include "common.hpp"
MAILROOM_EMAIL_PLUGIN(MinimalEmail, MINIMAL_MANIFEST("test_email"))
