// Shared by the test suites: the message of the exception `f` throws, for asserting on its text.
#pragma once

#include <exception>
#include <string>

namespace lz::test {

template <typename F>
std::string thrown_message(F f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no exception>";
}

}  // namespace lz::test
