#pragma once
// The Server owns the process: config, logger, database (embedded or not),
// TLS certificates, and the worker with its loop. It handles signals:
// SIGHUP reloads config and certificates, SIGTERM/SIGINT close every stream
// and exit 0.
#include <filesystem>
#include <memory>
#include <span>

#include <uv.h>

#include "core/bootstrap.hpp"
#include "core/instance_lock.hpp"
#include "core/log.hpp"
#include "core/worker.hpp"
#include "net/tls_context.hpp"

namespace parley::core {

class Server {
 public:
  Server(std::filesystem::path config_path, std::span<const xmpp::ModuleDefinition* const> modules);
  ~Server();
  // Runs until a stop signal; returns the process exit code.
  int run();

 private:
  // Raises the soft limit on open files to the hard one and logs it.
  void log_fd_limit();
  void reload();
  void stop();
  static void on_signal(uv_signal_t* handle, int signum);

  std::filesystem::path config_path_;
  std::span<const xmpp::ModuleDefinition* const> modules_;
  OptionRegistry options_;
  std::unique_ptr<Config> config_;
  std::vector<std::unique_ptr<Config>> retired_configs_;  // workers may still read them
  std::unique_ptr<Logger> log_;
  InstanceLock instance_lock_;  // held from start-up to exit
  Database database_;
  uv_loop_t loop_;
  std::unique_ptr<Worker> worker_;
  // One set for the process: TLS tickets stay valid across SIGHUP reloads
  // (a restart makes new keys, which costs returning clients one full handshake).
  net::TicketKeys ticket_keys_ = net::TicketKeys::generate();
  std::vector<uv_signal_t*> signals_;
  bool stopping_ = false;
};

}  // namespace parley::core
