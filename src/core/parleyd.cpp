// parleyd: the Parley XMPP server.
#include <cstring>
#include <iostream>

#include "core/server.hpp"
#include "modules/builtin.hpp"
#include "parley_build.hpp"

int main(int argc, char** argv) {
  std::filesystem::path config = "conf/parley.toml";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if ((arg == "--config" || arg == "-c") && i + 1 < argc) {
      config = argv[++i];
    } else if (arg == "--version") {
      std::cout << "parleyd " << PARLEY_VERSION << "\n";
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << "usage: parleyd [--config FILE]\n\n"
                   "Runs the Parley XMPP server with the given config (default conf/parley.toml).\n"
                   "Signals: SIGHUP reloads config and certificates and reopens the log file;\n"
                   "SIGTERM or SIGINT closes every stream and exits 0.\n";
      return 0;
    } else {
      std::cerr << "parleyd: unknown argument '" << arg << "' (try --help)\n";
      return 2;
    }
  }
  parley::core::Server server(config, parley::modules::builtin_modules());
  return server.run();
}
