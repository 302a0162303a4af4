// The ustack subcommands that are built; main.cpp dispatches to them.
#pragma once

#include <string>
#include <vector>

namespace ustack_cli {

int run_ping(const std::vector<std::string>& args);
int run_up(const std::vector<std::string>& args);
int run_dhcp(const std::vector<std::string>& args);
int run_serve(const std::vector<std::string>& args);
int run_get(const std::vector<std::string>& args);
int run_resolve(const std::vector<std::string>& args);
int run_explain(const std::vector<std::string>& args);
int run_echo(const std::vector<std::string>& args);

}  // namespace ustack_cli
