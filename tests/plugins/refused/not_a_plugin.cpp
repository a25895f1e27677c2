// An ordinary shared library: no manifest, no factory.
extern "C" __attribute__((visibility("default"))) int not_a_plugin_answer() { return 42; }
