// util/result: Result<T, E> and Result<void, E>, the returned errors of docs/architecture.md
// "Errors" (a move-only value, an error that carries a message, an operation with no value).
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "stack/util/result.hpp"

using stack::Err;
using stack::Result;

namespace {

enum class Oops { Bad };

struct Message {
  std::string message;
};

Result<int, Oops> half(int n) {
  if (n % 2) return Err{Oops::Bad};
  return n / 2;
}

Result<std::unique_ptr<int>, Message> boxed(int n) {
  if (n < 0) return Err{Message{"negative: " + std::to_string(n)}};
  return std::make_unique<int>(n);
}

Result<void, Message> check(int n) {
  if (n > 9) return Err{Message{"too large"}};
  return {};
}

}  // namespace

TEST_CASE("result: a value or an enum error") {
  auto ok = half(8);
  REQUIRE(ok);
  CHECK(ok.ok());
  CHECK(*ok == 4);
  CHECK(ok.value() == 4);
  auto bad = half(7);
  CHECK_FALSE(bad);
  CHECK_FALSE(bad.ok());
  CHECK(bad.error() == Oops::Bad);
}

TEST_CASE("result: a move-only value is moved out; the error carries its message") {
  auto made = boxed(5);
  REQUIRE(made);
  std::unique_ptr<int> p = std::move(*made);
  REQUIRE(p != nullptr);
  CHECK(*p == 5);
  auto refused = boxed(-2);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message == "negative: -2");
}

TEST_CASE("result: Result<void, E> is success or an error, nothing else") {
  auto fine = check(3);
  CHECK(fine);
  CHECK(fine.ok());
  auto failed = check(10);
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message == "too large");
  // Passed on as another Result's error, as DnsResolver::create does with init()'s.
  auto passed = [&]() -> Result<int, Message> {
    if (auto r = check(12); !r) return Err{r.error()};
    return 1;
  }();
  REQUIRE_FALSE(passed);
  CHECK(passed.error().message == "too large");
}
