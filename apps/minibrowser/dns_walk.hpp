// Level 5's walk (docs/levels.md): the question the resolver answered, asked again by us the way a
// resolver with an empty cache asks it — a root server, then the TLD's, then the authoritative one
// (RFC 1034 §5.3.3) — beside the fetch, never in front of it.
//
// The walk starts once the resolver has answered and runs while the page loads: its lines appear as
// its answers arrive. When the page is done, the walk may go on only while it is getting answers,
// and never past its budget (kBudget from its start); when no root server has answered by then (or
// within kRootGrace of the walk's start, for a page faster than that), one line says so and the walk
// is dropped (an isolated lab, a firewall). A root server that does not
// answer is named only once another one has answered (else the one line covers them all).
//
// What the resolver really did is read from the two TTLs (RFC 1035 §3.2.1, RFC 2181 §8): its
// answer's TTL below the authoritative server's means it answered from its cache.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/dns_trace.hpp"
#include "apps/common/frame_cite.hpp"
#include "apps/common/host.hpp"

namespace minibrowser {

class DnsWalk {
 public:
  static constexpr stack::Duration kBudget = stack::Duration::from_secs(3);
  static constexpr int kQueryTimeoutMs = 1000;
  // How long a root server may take to give the first answer when the page is done before it.
  static constexpr stack::Duration kRootGrace = stack::Duration::from_millis(200);

  // A level-5 line, at the host's now; `frames`: the query's datagram and its reply, for citing.
  using Say = std::function<void(const std::string&, std::vector<appkit::FrameWant> frames)>;
  // Turns the program's loop until `done` or `limit` (what Session::run_until does).
  using RunUntil = std::function<bool(const std::function<bool()>& done, stack::Duration limit)>;

  DnsWalk(appkit::Host& host, std::optional<std::string> root_hints, Say say);
  ~DnsWalk();

  // Starts the walk for `name` after the resolver's answer carried `resolver_ttl` seconds (nullopt:
  // the resolver said NXDOMAIN). One walk per run: later names are not walked.
  void start(const std::string& name, std::optional<std::uint32_t> resolver_ttl);
  bool started() const { return started_; }

  // For the program's loop.
  void process();
  std::optional<stack::Instant> next_deadline() const;

  // The page is done: let the walk finish while it has had answers and within its budget;
  // otherwise one line and the walk is dropped. After a failed lookup (no page to wait for) the
  // roots get one query timeout to answer first.
  void settle(const RunUntil& run_until, bool nothing_else_to_do = false);

 private:
  void on_step(const appkit::TraceStep& s);
  void on_done(const appkit::TraceResult& r);
  void give_up(const std::string& why);
  void say(const std::string& text);  // a line about no one frame

  appkit::Host& host_;
  Say say_;
  std::unique_ptr<appkit::DnsTrace> trace_;
  bool started_ = false;
  bool finished_ = false;
  stack::Instant started_at_;
  int answers_ = 0;                     // replies of any kind (referrals, answers, errors)
  struct Line {
    std::string text;
    std::vector<appkit::FrameWant> frames;
  };
  std::vector<Line> held_;              // root timeouts, said once another server has answered
  std::optional<std::uint32_t> resolver_ttl_;
};

}  // namespace minibrowser
