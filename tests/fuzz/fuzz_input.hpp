// Shared by the fuzz targets: the input split into fields at a separator, so that one
// corpus file can carry several texts (a schema and an instance, a template and its data).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailroom::fuzz {

// The input's parts between "\n--\n" separators; missing parts are empty.
inline std::vector<std::string> fields(const uint8_t* data, std::size_t size, std::size_t count) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> out;
  while (out.size() + 1 < count) {
    const auto at = rest.find("\n--\n");
    if (at == std::string_view::npos) break;
    out.emplace_back(rest.substr(0, at));
    rest.remove_prefix(at + 4);
  }
  out.emplace_back(rest);
  out.resize(count);
  return out;
}

}  // namespace mailroom::fuzz
