#include "apps/minibrowser/dns_walk.hpp"

#include <utility>

#include "apps/common/interrupt.hpp"

namespace minibrowser {

using stack::Duration;
using stack::Instant;

namespace {

std::string ms(Duration d) {
  const auto us = d.micros();
  return std::to_string(us / 1000) + "." + std::to_string((us % 1000) / 100) + " ms";
}

}  // namespace

DnsWalk::DnsWalk(appkit::Host& host, std::optional<std::string> root_hints, Say say_line) : host_(host), say_(std::move(say_line)) {
  appkit::DnsTraceOptions to;
  if (root_hints) {
    if (auto roots = appkit::load_root_hints(*root_hints)) {
      to.roots = std::move(*roots);
    } else {
      say("DNS walk: " + roots.error().message + "; using the IANA root servers");
    }
  }
  to.timeout_ms = kQueryTimeoutMs;
  trace_ = std::make_unique<appkit::DnsTrace>(host_.iface(), to, [&host] { return host.now(); }, 0x7ace);
  trace_->on_step = [this](const appkit::TraceStep& s) { on_step(s); };
  trace_->on_note = [this](int, const std::string& text) { say("DNS walk: " + text); };
}

DnsWalk::~DnsWalk() = default;

void DnsWalk::say(const std::string& text) { say_(text, {}); }

void DnsWalk::start(const std::string& name, std::optional<std::uint32_t> resolver_ttl) {
  if (started_) return;
  started_ = true;
  started_at_ = host_.now();
  resolver_ttl_ = resolver_ttl;
  say(std::string("DNS walk: ") + (resolver_ttl ? "alongside the fetch, " : "") +
       "we ask as a resolver with an empty cache would: a root, the TLD's, the authoritative server");
  trace_->start(name, [this](const appkit::TraceResult& r) { on_done(r); });
}

void DnsWalk::process() {
  if (trace_ && started_ && !finished_) trace_->process();
}

std::optional<Instant> DnsWalk::next_deadline() const {
  if (!trace_ || !started_ || finished_) return std::nullopt;
  return trace_->next_deadline();
}

void DnsWalk::on_step(const appkit::TraceStep& s) {
  const std::string line = "DNS walk: asked " + s.server_name.describe() + " (" + s.server.describe() + ") for " +
                           s.qname.describe() + " [zone " + s.zone.describe() + "] in " + ms(s.elapsed) +
                           (s.note.empty() ? "" : " — " + s.note);
  // The query's datagram and the reply's (their frames are cited); asked again over TCP after
  // TC=1 (RFC 7766), also the segments that carry the query and complete the reply (same ID).
  std::vector<appkit::FrameWant> frames{appkit::FrameWant::dns(true, s.id, s.server)};
  if (s.reply || s.over_tcp) frames.push_back(appkit::FrameWant::dns(false, s.id, s.server));
  if (s.over_tcp) {
    frames.push_back(appkit::FrameWant::dns_tcp(true, appkit::FrameFacts::Segment::Message, s.server, s.id));
    if (s.reply) frames.push_back(appkit::FrameWant::dns_tcp(false, appkit::FrameFacts::Segment::Message, s.server, s.id));
  }
  if (s.outcome == appkit::TraceStep::Outcome::Timeout && answers_ == 0) {
    held_.push_back({line, frames});  // said only if another server answers: else the one line covers it
    return;
  }
  if (s.outcome != appkit::TraceStep::Outcome::Timeout) {
    ++answers_;
    for (const auto& h : held_) say_(h.text, h.frames);
    held_.clear();
  }
  say_(line, frames);
}

void DnsWalk::on_done(const appkit::TraceResult& r) {
  finished_ = true;
  if (answers_ == 0) {
    give_up(r.error_message());
    return;
  }
  if (!r.ok()) {
    if (r.error == appkit::DnsError::NoSuchDomain) {
      say("DNS walk: " + r.detail + " after " + std::to_string(r.queries) + " queries in " + ms(r.elapsed) +
           ": the zone's own server says the name does not exist" +
           (resolver_ttl_ ? std::string() : "; the resolver passed that on"));
    } else {
      say("DNS walk: " + r.error_message() + " after " + std::to_string(r.queries) + " queries in " + ms(r.elapsed));
    }
    return;
  }
  say("DNS walk: answer from the authoritative server " + (r.server ? r.server->describe() : std::string("?")) + " after " +
       std::to_string(r.queries) + " queries in " + ms(r.elapsed));
  if (!resolver_ttl_ || r.addresses.empty()) return;
  // The authoritative TTL is the full one; the resolver's counts down in its cache (RFC 1035 §3.2.1).
  const std::uint32_t full = r.addresses.front().ttl, ours = *resolver_ttl_;
  if (ours < full) {
    say("DNS walk: the resolver answered from its cache (TTL " + std::to_string(ours) + " of " + std::to_string(full) +
         " s left: it learned the name " + std::to_string(full - ours) + " s ago); this walk is the one it made then");
  } else if (ours == full) {
    say("DNS walk: the resolver's TTL is the full " + std::to_string(full) +
         " s: it asked the authoritative server within the last second (root and TLD perhaps from its cache)");
  } else {
    say("DNS walk: the resolver's TTL " + std::to_string(ours) + " s is more than the authoritative " + std::to_string(full) +
         " s: the resolver does not pass the TTL on as it is");
  }
}

void DnsWalk::give_up(const std::string& why) {
  finished_ = true;
  held_.clear();
  say("DNS walk: no root server answered in " + ms(host_.now() - started_at_) + (why.empty() ? std::string() : " (" + why + ")") +
       ": the walk is dropped" + (resolver_ttl_ ? ", the page does not wait" : "") + " (an isolated network or a firewall looks like this; "
       "--root-hints FILE names roots that can be reached)");
}

void DnsWalk::settle(const RunUntil& run_until, bool nothing_else_to_do) {
  if (!started_ || finished_ || !trace_) return;
  const Instant budget_end = started_at_ + kBudget;
  if (answers_ == 0) {
    // A page faster than a root server: the roots get kRootGrace from the start of the walk (one
    // query's time when there is no page to wait for), then the walk is dropped.
    const Instant first = started_at_ + (nothing_else_to_do ? Duration::from_millis(kQueryTimeoutMs) : kRootGrace);
    if (host_.now() < first) run_until([this] { return finished_ || answers_ > 0; }, first - host_.now());
  }
  if (finished_ || appkit::interrupted()) return;
  if (answers_ == 0) {
    give_up("");
    trace_.reset();  // closes its sockets
    return;
  }
  if (host_.now() < budget_end) run_until([this] { return finished_; }, budget_end - host_.now());
  if (finished_ || appkit::interrupted()) return;
  finished_ = true;
  say("DNS walk: stopped at its " + std::to_string(kBudget.secs()) + " s budget after " + std::to_string(answers_) +
       " answer(s)");
  trace_.reset();
}

}  // namespace minibrowser
