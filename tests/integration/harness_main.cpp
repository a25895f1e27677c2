#include "harness.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  auto* env = new mailroom::testing::PostgresEnvironment();
  mailroom::testing::PostgresEnvironment::instance() = env;
  ::testing::AddGlobalTestEnvironment(env);
  return RUN_ALL_TESTS();
}
