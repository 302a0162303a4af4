// One run of the mini-browser on our own stack, the steps of docs/levels.md in order: join the
// network (DHCP), find the server's address (hosts file, DNS, the level-5 walk beside it), fetch
// the page through the connection pool (TLS for https, redirects, --follow-refresh), fetch its
// subresources, hand it to the Page, and close every connection with a FIN.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/dns_resolver.hpp"
#include "apps/common/host.hpp"
#include "apps/common/html_render.hpp"
#include "apps/common/http_client.hpp"
#include "apps/common/network_setup.hpp"
#include "apps/common/tls.hpp"
#include "apps/minibrowser/body_output.hpp"
#include "apps/minibrowser/capture_files.hpp"
#include "apps/minibrowser/dns_walk.hpp"
#include "apps/minibrowser/narration.hpp"
#include "apps/minibrowser/options.hpp"
#include "apps/minibrowser/pool.hpp"

namespace minibrowser {

class Session {
 public:
  // `host`: opened on options.net; `capture`: prepared (it names the capture, if any).
  Session(appkit::Host& host, const Options& options, const CaptureFiles& capture);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs every step; returns the exit code (curl's where curl has one).
  int run();

 private:
  // How the fetch of the page ended: `page` to show; or an error whose `exit_code` is returned
  // after the connections are closed; or, `quit`, one that returns it at once.
  struct Fetched {
    std::optional<FetchResult> page;
    int exit_code = 0;
    bool quit = false;
    static Fetched stop_now(int exit_code) { return {std::nullopt, exit_code, true}; }
    static Fetched failed(int exit_code) { return {std::nullopt, exit_code, false}; }
  };

  void say(int level, const std::string& text) const { narration_.say(level, text); }
  void say_what_was_typed();
  std::optional<int> join_network();
  void start_dns_walk();
  // Lets the resolver, the walk and the pool work until `done` or `limit`.
  bool run_until(const std::function<bool()>& done, stack::Duration limit);
  DnsWalk::RunUntil loop() {
    return [this](const std::function<bool()>& done, stack::Duration limit) { return run_until(done, limit); };
  }
  // The address of `name`, or nothing (with resolve_code_ set, or after an interruption).
  std::optional<stack::wire::Ipv4Address> resolve(const std::string& name);
  std::optional<stack::wire::Ipv4Address> from_hosts_file(const std::string& name);
  bool dns_server_usable(const std::string& name);
  bool ensure_resolver();
  std::optional<stack::wire::Ipv4Address> ask_dns(const std::string& name);
  void say_route(stack::wire::Ipv4Address address);
  bool ensure_tls();
  int tls_failure() const;
  std::optional<int> open_pool();
  Fetched fetch_page();
  std::optional<FetchResult> request(const appkit::Url& url, stack::wire::Ipv4Address address);
  int fetch_failed(const appkit::Url& url, const FetchResult& got) const;
  bool follow_refresh(const appkit::Url& url, const appkit::http::Response& resp);
  std::optional<int> fetch_subresources(const std::vector<appkit::html::Subresource>& resources);
  int finish(int exit_code);
  std::optional<int> close_connections();
  int stop_interrupted();

  static constexpr int kMaxRefreshes = 5;

  appkit::Host& host_;
  const Options& options_;
  const CaptureFiles& capture_;
  Narration narration_;
  std::unique_ptr<ConnectionPool> pool_;
  appkit::NetworkSetup setup_;
  std::unique_ptr<appkit::DnsResolver> resolver_;
  std::unique_ptr<DnsWalk> walk_;
  std::map<std::string, stack::wire::Ipv4Address> resolved_;  // host -> address, for this run
  int resolve_code_ = 0;
  // TLS: one context for the run (the CA store, the key log, the sessions the pool resumes),
  // made at the first https URL.
  std::unique_ptr<appkit::tls::Context> tls_context_;
  std::optional<appkit::tls::Failure> tls_setup_error_;
  BodyOutput body_;
  appkit::http::RedirectFollower redirects_;
  int refreshes_ = 0;
};

}  // namespace minibrowser
