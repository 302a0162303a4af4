// What curl tells about a transfer, for ustack get: the -w/--write-out format and the progress
// meter (curl(1) "-w, --write-out" and "PROGRESS METER").
//
//   -w '%{http_code} %{time_total}\n'   ->  "200 0.012345"
//
// Times are seconds from the start of the transfer, as curl counts them: the name lookup done, the
// TCP connection made, the TLS handshake done (0 for http), the first response byte, the end.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace appkit {

struct TransferInfo {
  double time_namelookup = 0, time_connect = 0, time_appconnect = 0, time_pretransfer = 0;
  double time_starttransfer = 0, time_redirect = 0, time_total = 0;
  std::uint64_t size_download = 0;  // body bytes (decoded with --compressed)
  std::uint64_t size_header = 0;    // response header bytes as received
  std::uint64_t size_request = 0;
  double speed_download = 0;        // bytes per second over the whole transfer
  int http_code = 0;                // 0 when no response came ("000", as curl prints it)
  int num_redirects = 0;
  int num_connects = 0;
  int exitcode = 0;
  std::string url_effective, content_type, remote_ip, local_ip, scheme, errormsg;
  std::uint16_t remote_port = 0, local_port = 0;
};

// curl's write-out: %{variable} replaced, %% a percent sign, \n \r \t escapes. An unknown
// variable is left out and named in `*warning` (curl: "unknown --write-out variable").
std::string format_write_out(std::string_view format, const TransferInfo& info, std::string* warning = nullptr);

// curl's five-character sizes: "12345", " 123k", "12.3M", " 123M", "1234G".
std::string size5(std::uint64_t bytes);
// curl's "H:MM:SS", or "--:--:--" when unknown.
std::string time8(std::optional<double> seconds);

// The meter on stderr, redrawn at most once a second and at the end (curl's default meter, or
// with `bar` the -# line of '#' and a percentage).
class ProgressMeter {
 public:
  ProgressMeter(std::FILE* out, bool bar, unsigned width = 80) : out_(out), bar_(bar), width_(width) {}
  // `elapsed`: seconds since the transfer started; `total`: the body's length when known.
  void update(double elapsed, std::uint64_t received, std::optional<std::uint64_t> total);
  // The last line, drawn whatever the time, then a newline.
  void finish(double elapsed, std::uint64_t received, std::optional<std::uint64_t> total);
  // Ends a line left open (a failure stops the transfer): nothing when none was drawn.
  void close();
  // One line of the meter (no "\r"), for tests.
  std::string line(double elapsed, std::uint64_t received, std::optional<std::uint64_t> total) const;

 private:
  void draw(double elapsed, std::uint64_t received, std::optional<std::uint64_t> total);
  std::FILE* out_;
  bool bar_;
  unsigned width_;
  bool header_done_ = false;
  bool line_open_ = false;
  std::optional<double> last_draw_;
  // For the current speed: bytes and time at the last draw.
  double last_elapsed_ = 0;
  std::uint64_t last_received_ = 0;
  double current_speed_ = 0;
};

}  // namespace appkit
