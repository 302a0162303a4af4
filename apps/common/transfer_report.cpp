#include "apps/common/transfer_report.hpp"

#include <algorithm>
#include <cinttypes>

namespace appkit {

namespace {

std::string fixed6(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  return buf;
}

std::optional<std::string> variable(std::string_view name, const TransferInfo& t) {
  auto u64 = [](std::uint64_t v) { return std::to_string(v); };
  if (name == "time_namelookup") return fixed6(t.time_namelookup);
  if (name == "time_connect") return fixed6(t.time_connect);
  if (name == "time_appconnect") return fixed6(t.time_appconnect);
  if (name == "time_pretransfer") return fixed6(t.time_pretransfer);
  if (name == "time_starttransfer") return fixed6(t.time_starttransfer);
  if (name == "time_redirect") return fixed6(t.time_redirect);
  if (name == "time_total") return fixed6(t.time_total);
  if (name == "size_download") return u64(t.size_download);
  if (name == "size_header") return u64(t.size_header);
  if (name == "size_request") return u64(t.size_request);
  if (name == "speed_download") return u64(static_cast<std::uint64_t>(t.speed_download));
  if (name == "http_code" || name == "response_code") {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%03d", t.http_code);
    return std::string(buf);
  }
  if (name == "num_redirects") return std::to_string(t.num_redirects);
  if (name == "num_connects") return std::to_string(t.num_connects);
  if (name == "exitcode") return std::to_string(t.exitcode);
  if (name == "errormsg") return t.errormsg;
  if (name == "url_effective") return t.url_effective;
  if (name == "content_type") return t.content_type;
  if (name == "remote_ip") return t.remote_ip;
  if (name == "remote_port") return t.remote_port ? std::to_string(t.remote_port) : std::string();
  if (name == "local_ip") return t.local_ip;
  if (name == "local_port") return t.local_port ? std::to_string(t.local_port) : std::string();
  if (name == "scheme") return t.scheme;
  return std::nullopt;
}

}  // namespace

std::string format_write_out(std::string_view format, const TransferInfo& info, std::string* warning) {
  std::string out;
  for (std::size_t i = 0; i < format.size(); ++i) {
    const char c = format[i];
    if (c == '%' && i + 1 < format.size()) {
      if (format[i + 1] == '%') {
        out += '%';
        ++i;
        continue;
      }
      if (format[i + 1] == '{') {
        const auto close = format.find('}', i + 2);
        if (close != std::string_view::npos) {
          const auto name = format.substr(i + 2, close - i - 2);
          if (auto v = variable(name, info)) {
            out += *v;
          } else if (warning) {
            *warning = "unknown --write-out variable: '" + std::string(name) + "'";
          }
          i = close;
          continue;
        }
      }
    }
    if (c == '\\' && i + 1 < format.size()) {
      const char e = format[i + 1];
      if (e == 'n' || e == 'r' || e == 't' || e == '\\') {
        out += e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : '\\';
        ++i;
        continue;
      }
    }
    out += c;
  }
  return out;
}

std::string size5(std::uint64_t bytes) {
  constexpr std::uint64_t K = 1024, M = K * K, G = M * K;
  char buf[32];
  if (bytes < 100000) {
    std::snprintf(buf, sizeof buf, "%5" PRIu64, bytes);
  } else if (bytes < 10000 * K) {
    std::snprintf(buf, sizeof buf, "%4" PRIu64 "k", bytes / K);
  } else if (bytes < 100 * M) {
    std::snprintf(buf, sizeof buf, "%2" PRIu64 ".%" PRIu64 "M", bytes / M, (bytes % M) / (M / 10));
  } else if (bytes < 10000 * M) {
    std::snprintf(buf, sizeof buf, "%4" PRIu64 "M", bytes / M);
  } else if (bytes < 100 * G) {
    std::snprintf(buf, sizeof buf, "%2" PRIu64 ".%" PRIu64 "G", bytes / G, (bytes % G) / (G / 10));
  } else if (bytes < 10000 * G) {
    std::snprintf(buf, sizeof buf, "%4" PRIu64 "G", bytes / G);
  } else {
    std::snprintf(buf, sizeof buf, "%4" PRIu64 "T", bytes / (G * K));
  }
  return buf;
}

std::string time8(std::optional<double> seconds) {
  if (!seconds || !(*seconds >= 0) || *seconds >= 360000) return "--:--:--";
  const auto s = static_cast<std::uint64_t>(*seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%2" PRIu64 ":%02" PRIu64 ":%02" PRIu64, s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

std::string ProgressMeter::line(double elapsed, std::uint64_t received, std::optional<std::uint64_t> total) const {
  const int percent = total && *total > 0 ? static_cast<int>(std::min<std::uint64_t>(100, received * 100 / *total))
                                          : (total && received >= *total ? 100 : 0);
  char buf[256];
  if (bar_) {
    // curl -#: a line of '#' as wide as the terminal leaves room for, and the percentage.
    const unsigned cells = width_ > 8 ? width_ - 8 : 1;
    if (total && *total > 0) {
      const double frac = std::min(1.0, static_cast<double>(received) / static_cast<double>(*total));
      const auto n = static_cast<unsigned>(frac * cells);
      std::snprintf(buf, sizeof buf, "%s%s %5.1f%%", std::string(n, '#').c_str(), std::string(cells - n, ' ').c_str(),
                    frac * 100.0);
    } else {
      // Length unknown: how much so far instead of a fraction.
      std::snprintf(buf, sizeof buf, "%-*s %s", static_cast<int>(cells - 6), "#", size5(received).c_str());
    }
    return buf;
  }
  const double average = elapsed > 0 ? static_cast<double>(received) / elapsed : 0;
  std::optional<double> total_time, left;
  if (total && average > 0) {
    total_time = static_cast<double>(*total) / average;
    left = std::max(0.0, *total_time - elapsed);
  }
  std::snprintf(buf, sizeof buf, "%3d %s  %3d %s    0     0  %s      0 %s %s %s %s", percent,
                size5(total.value_or(received)).c_str(), percent, size5(received).c_str(),
                size5(static_cast<std::uint64_t>(average)).c_str(), time8(total_time).c_str(), time8(elapsed).c_str(),
                time8(left).c_str(), size5(static_cast<std::uint64_t>(current_speed_)).c_str());
  return buf;
}

void ProgressMeter::draw(double elapsed, std::uint64_t received, std::optional<std::uint64_t> total) {
  if (!header_done_ && !bar_) {
    std::fputs("  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
               "                                 Dload  Upload   Total   Spent    Left  Speed\n",
               out_);
  }
  header_done_ = true;
  if (elapsed > last_elapsed_) {
    current_speed_ = static_cast<double>(received - last_received_) / (elapsed - last_elapsed_);
  }
  last_elapsed_ = elapsed;
  last_received_ = received;
  std::fprintf(out_, "\r%s", line(elapsed, received, total).c_str());
  line_open_ = true;
  std::fflush(out_);
  last_draw_ = elapsed;
}

void ProgressMeter::update(double elapsed, std::uint64_t received, std::optional<std::uint64_t> total) {
  if (last_draw_ && elapsed - *last_draw_ < 1.0) return;
  draw(elapsed, received, total);
}

void ProgressMeter::finish(double elapsed, std::uint64_t received, std::optional<std::uint64_t> total) {
  draw(elapsed, received, total);
  close();
}

void ProgressMeter::close() {
  if (!line_open_) return;
  std::fputc('\n', out_);
  std::fflush(out_);
  line_open_ = false;
}

}  // namespace appkit
