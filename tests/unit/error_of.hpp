// The message of the E that `f` throws, or "(no error)": lets a test compare whole messages.
#pragma once

#include <functional>
#include <string>

template <class E>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}
