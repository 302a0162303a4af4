// apps/transfer_report: curl's -w/--write-out variables and escapes, and its progress meter's
// five-character sizes, times and lines (curl(1) "PROGRESS METER").
#include <doctest/doctest.h>

#include <string>

#include "apps/common/transfer_report.hpp"

using appkit::format_write_out;
using appkit::TransferInfo;

TEST_SUITE("apps/transfer_report") {
  TEST_CASE("-w: curl's variables, %% and the \\n \\t escapes") {
    TransferInfo t;
    t.http_code = 200;
    t.time_total = 0.5;
    t.time_namelookup = 0.000123;
    t.size_download = 1048576;
    t.speed_download = 2097152.7;
    t.remote_ip = "203.0.113.80";
    t.remote_port = 80;
    t.num_redirects = 1;
    t.url_effective = "http://www.domain.com/";
    CHECK(format_write_out("%{http_code} %{time_total}\\n", t) == "200 0.500000\n");
    CHECK(format_write_out("%{time_namelookup}\\t%{size_download}\\t%{speed_download}", t) == "0.000123\t1048576\t2097152");
    CHECK(format_write_out("%{remote_ip}:%{remote_port} %{num_redirects} %{url_effective}", t) ==
          "203.0.113.80:80 1 http://www.domain.com/");
    CHECK(format_write_out("100%% done", t) == "100% done");
    CHECK(format_write_out("%", t) == "%");
  }
  TEST_CASE("-w: no response is http_code 000; an unknown variable is dropped and named") {
    TransferInfo t;
    CHECK(format_write_out("%{http_code}", t) == "000");
    std::string warning;
    CHECK(format_write_out("a%{nonsense}b", t, &warning) == "ab");
    CHECK(warning.find("nonsense") != std::string::npos);
  }
  TEST_CASE("meter sizes and times as curl prints them") {
    CHECK(appkit::size5(0) == "    0");
    CHECK(appkit::size5(99999) == "99999");
    CHECK(appkit::size5(100000) == "  97k");
    CHECK(appkit::size5(15 * 1024 * 1024 + 512 * 1024) == "15.5M");
    CHECK(appkit::size5(1024ull * 1024 * 1024) == "1024M");
    CHECK(appkit::time8(std::nullopt) == "--:--:--");
    CHECK(appkit::time8(3725.9) == " 1:02:05");
  }
  TEST_CASE("meter line: percent of a known length, time left; the -# bar fills in proportion") {
    appkit::ProgressMeter meter(nullptr, false);
    const std::string half = meter.line(2.0, 512 * 1024, 1024 * 1024);
    CHECK(half.rfind(" 50  1024k   50   512k", 0) == 0);
    CHECK(half.find(" 0:00:04  0:00:02  0:00:02") != std::string::npos);
    const std::string unknown = meter.line(1.0, 1000, std::nullopt);
    CHECK(unknown.rfind("  0  1000    0  1000", 0) == 0);
    CHECK(unknown.find("--:--:--") != std::string::npos);
    appkit::ProgressMeter bar(nullptr, true, 28);
    CHECK(bar.line(1.0, 50, 100) == "##########            50.0%");
    CHECK(bar.line(1.0, 100, 100) == "#################### 100.0%");
  }
}
