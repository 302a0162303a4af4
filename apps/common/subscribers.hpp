// Subscribers: a list of callbacks that a subscriber leaves by dropping its handle.
//
// The host hands every stack event and every frame to whoever listens: the narrator for the whole
// run, and short-lived listeners such as a connecting stream watching for its next hop's ARP
// failure. A short-lived listener must not outlive its interest: subscribe() returns a
// Subscription, and destroying (or reset()ting) it removes the callback. Without it, a program
// that opens N connections would walk N dead callbacks on every event.
//
// Safe against the awkward orders: a callback may subscribe or unsubscribe (itself or others)
// while notify() runs — removals take effect at once (the callback is not called again) and the
// storage is compacted after the outermost notify(); a Subscription may outlive the list (it then
// does nothing).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace appkit {

template <typename Signature>
class Subscribers;

template <typename... Args>
class Subscribers<void(Args...)> {
  struct Entry {
    std::uint64_t id;
    std::function<void(Args...)> fn;
    bool live = true;  // false once unsubscribed during a notify(): erased after it
  };
  struct Registry {
    std::vector<Entry> entries;
    std::vector<Entry> joining;  // subscribed during a notify(): joins after it
    std::uint64_t next_id = 1;
    int notifying = 0;
    bool dirty = false;

    void remove(std::uint64_t id) {
      for (auto* list : {&entries, &joining}) {
        for (auto& e : *list) {
          if (e.id != id) continue;
          if (notifying > 0) {
            e.live = false;  // the callback being run may be this one: never destroy it mid-call
            dirty = true;
          } else {
            std::erase_if(*list, [id](const Entry& x) { return x.id == id; });
          }
          return;
        }
      }
    }
    void settle() {
      if (dirty) std::erase_if(entries, [](const Entry& e) { return !e.live; });
      std::erase_if(joining, [](const Entry& e) { return !e.live; });
      for (auto& e : joining) entries.push_back(std::move(e));
      joining.clear();
      dirty = false;
    }
  };

 public:
  // The handle of one subscription: move-only; destroying it unsubscribes.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&& o) noexcept : registry_(std::move(o.registry_)), id_(std::exchange(o.id_, 0)) {}
    Subscription& operator=(Subscription&& o) noexcept {
      if (this != &o) {
        reset();
        registry_ = std::move(o.registry_);
        id_ = std::exchange(o.id_, 0);
      }
      return *this;
    }
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    ~Subscription() { reset(); }

    void reset() {
      if (auto r = registry_.lock(); r && id_ != 0) r->remove(id_);
      registry_.reset();
      id_ = 0;
    }
    bool active() const { return id_ != 0 && !registry_.expired(); }

   private:
    friend class Subscribers;
    Subscription(std::weak_ptr<Registry> r, std::uint64_t id) : registry_(std::move(r)), id_(id) {}
    std::weak_ptr<Registry> registry_;
    std::uint64_t id_ = 0;
  };

  // A callback for as long as the returned handle lives.
  [[nodiscard]] Subscription subscribe(std::function<void(Args...)> fn) {
    const std::uint64_t id = add_entry(std::move(fn));
    return Subscription(registry_, id);
  }
  // A callback for the list's whole life (the program's narrator, -v).
  void add(std::function<void(Args...)> fn) { add_entry(std::move(fn)); }

  // Calls every current callback, in subscription order.
  void notify(Args... args) {
    Registry& r = *registry_;
    ++r.notifying;
    // By index: a callback may add to `joining`, never to `entries`, so the vector does not move.
    for (std::size_t i = 0; i < r.entries.size(); ++i) {
      if (r.entries[i].live) r.entries[i].fn(args...);
    }
    if (--r.notifying == 0) r.settle();
  }

  // Live callbacks (for tests and --stats).
  std::size_t size() const {
    std::size_t n = 0;
    for (const auto& e : registry_->entries) n += e.live ? 1 : 0;
    for (const auto& e : registry_->joining) n += e.live ? 1 : 0;
    return n;
  }

 private:
  std::uint64_t add_entry(std::function<void(Args...)> fn) {
    Registry& r = *registry_;
    const std::uint64_t id = r.next_id++;
    (r.notifying > 0 ? r.joining : r.entries).push_back(Entry{id, std::move(fn), true});
    return id;
  }

  std::shared_ptr<Registry> registry_ = std::make_shared<Registry>();
};

}  // namespace appkit
