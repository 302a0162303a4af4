// apps/common/subscribers: callbacks that leave when their handle goes, in every awkward order
// (unsubscribing from inside a notification, subscribing from inside one, a handle outliving the
// list). The Host's event listeners are built on it: a connecting stream's ARP watch must not
// stay behind once the stream is gone.
#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <vector>

#include "apps/common/subscribers.hpp"

using appkit::Subscribers;
using List = Subscribers<void(int)>;

TEST_SUITE("apps/subscribers") {
  TEST_CASE("a subscription lasts as long as its handle") {
    List list;
    std::vector<int> seen;
    list.add([&](int v) { seen.push_back(v); });  // for the list's whole life
    {
      auto sub = list.subscribe([&](int v) { seen.push_back(100 + v); });
      CHECK(list.size() == 2);
      list.notify(1);
    }
    CHECK(list.size() == 1);
    list.notify(2);
    CHECK(seen == std::vector<int>{1, 101, 2});
  }

  TEST_CASE("many short-lived subscribers leave nothing behind") {
    List list;
    int calls = 0;
    for (int i = 0; i < 1000; ++i) {
      auto sub = list.subscribe([&](int) { ++calls; });
      list.notify(i);
    }
    CHECK(list.size() == 0);
    CHECK(calls == 1000);
    list.notify(0);
    CHECK(calls == 1000);
  }

  TEST_CASE("a callback may end its own subscription, or another's, while being notified") {
    List list;
    std::vector<int> seen;
    std::optional<List::Subscription> first, second;
    first = list.subscribe([&](int v) {
      seen.push_back(v);
      first.reset();   // destroys the handle (and so this very callback's entry) mid-call
      second.reset();  // the next one is not called any more in this round
    });
    second = list.subscribe([&](int v) { seen.push_back(10 + v); });
    list.notify(1);
    list.notify(2);
    CHECK(seen == std::vector<int>{1});
    CHECK(list.size() == 0);
  }

  TEST_CASE("a callback may subscribe while being notified: the new one hears the next round") {
    List list;
    std::vector<int> seen;
    std::vector<List::Subscription> subs;
    list.add([&](int v) {
      seen.push_back(v);
      if (v == 1) subs.push_back(list.subscribe([&](int w) { seen.push_back(100 + w); }));
    });
    list.notify(1);
    list.notify(2);
    CHECK(seen == std::vector<int>{1, 2, 102});
    subs.clear();
    CHECK(list.size() == 1);
  }

  TEST_CASE("a handle may outlive its list, and a moved-from handle does nothing") {
    List::Subscription kept;
    {
      auto list = std::make_unique<List>();
      kept = list->subscribe([](int) {});
      CHECK(kept.active());
      List::Subscription moved = std::move(kept);
      CHECK_FALSE(kept.active());
      CHECK(moved.active());
      kept = std::move(moved);
    }
    CHECK_FALSE(kept.active());
    kept.reset();  // no list any more: nothing to do, nothing to crash
  }
}
