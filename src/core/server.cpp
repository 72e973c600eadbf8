#include "core/server.hpp"

#include <csignal>
#include <iostream>

#include "core/fd_limit.hpp"
#include "core/logger_from_config.hpp"

namespace parley::core {

Server::Server(std::filesystem::path config_path, std::span<const xmpp::ModuleDefinition* const> modules)
    : config_path_(std::move(config_path)), modules_(modules), options_(all_options(modules)) {
  uv_loop_init(&loop_);
}

Server::~Server() {
  worker_.reset();
  for (uv_signal_t* s : signals_) {
    uv_close(reinterpret_cast<uv_handle_t*>(s), [](uv_handle_t* h) { delete reinterpret_cast<uv_signal_t*>(h); });
  }
  // Let every close callback run before the loop goes.
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

int Server::run() {
  auto loaded = Config::load(config_path_, options_);
  if (auto* error = std::get_if<ConfigError>(&loaded)) {
    std::cerr << "parleyd: " << error->str() << "\n";
    return 2;
  }
  config_ = std::make_unique<Config>(std::move(std::get<Config>(loaded)));
  auto logger = make_logger(*config_);
  if (auto* error = std::get_if<std::string>(&logger)) {
    std::cerr << "parleyd: " << *error << "\n";
    return 2;
  }
  log_ = std::make_unique<Logger>(std::move(std::get<Logger>(logger)));
  // A client vanishing mid-write must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);

  log_fd_limit();
  std::string error;
  switch (instance_lock_.acquire(state_dir(*config_), error)) {
    case InstanceLock::Outcome::locked: break;
    case InstanceLock::Outcome::busy: log_->error("server", 0, error); return 1;
    case InstanceLock::Outcome::unavailable:
      // Not fatal: a state directory may be read-only when nothing is kept in it.
      log_->warn("server", 0, error, "; a second parleyd on this state directory will not be detected");
      break;
  }
  if (!open_database(*config_, *log_, database_, error)) {
    log_->error("server", 0, "database: ", error);
    return 1;
  }
  std::shared_ptr<net::TlsContextSet> tls = load_tls(*config_, ticket_keys_, error);
  if (!tls) {
    log_->error("server", 0, "TLS: ", error);
    return 1;
  }
  worker_ = std::make_unique<Worker>(&loop_, *config_, *log_, modules_, database_.conninfo, tls);
  if (!worker_->start(error)) {
    log_->error("server", 0, error);
    return 1;
  }
  for (int signum : {SIGTERM, SIGINT, SIGHUP}) {
    auto* handle = new uv_signal_t;
    uv_signal_init(&loop_, handle);
    handle->data = this;
    uv_signal_start(handle, on_signal, signum);
    signals_.push_back(handle);
  }
  log_->info("server", 0, "parleyd ready");
  uv_run(&loop_, UV_RUN_DEFAULT);
  log_->info("server", 0, "parleyd stopped");
  return 0;
}

void Server::log_fd_limit() {
  FdLimit limit;
  std::string error;
  if (!raise_fd_limit(limit, error)) {
    log_->warn("server", 0, error);
    return;
  }
  if (limit.now == limit.before) {
    log_->info("server", 0, "open files limit: ", limit.now);
  } else {
    log_->info("server", 0, "open files limit raised from ", limit.before, " to ", limit.now);
  }
  if (limit.now < kFewFds) {
    log_->warn("server", 0, "open files limit is only ", limit.now, ": fewer clients than that can connect; raise ",
               "the hard limit (LimitNOFILE= for a systemd service, nofile in /etc/security/limits.conf)");
  }
}

void Server::on_signal(uv_signal_t* handle, int signum) {
  auto* self = static_cast<Server*>(handle->data);
  if (signum == SIGHUP) {
    self->reload();
  } else {
    self->stop();
  }
}

void Server::reload() {
  auto loaded = Config::load(config_path_, options_);
  if (auto* error = std::get_if<ConfigError>(&loaded)) {
    log_->error("server", 0, "reload refused, keeping the running config: ", error->str());
    return;
  }
  auto fresh = std::make_unique<Config>(std::move(std::get<Config>(loaded)));
  std::string error;
  std::shared_ptr<net::TlsContextSet> tls = load_tls(*fresh, ticket_keys_, error);
  if (!tls) {
    log_->error("server", 0, "reload refused, keeping the running config: TLS: ", error);
    return;
  }
  // A fresh Logger opens server.log_file again: logrotate's renamed file is
  // left behind, and a changed path takes effect. Everything holds log_ by
  // reference, so the new one moves into the same object.
  auto logger = make_logger(*fresh);
  if (auto* failed = std::get_if<std::string>(&logger)) {
    log_->error("server", 0, "reload keeps the current log: ", *failed);
    log_->set_level(parse_log_level(fresh->get_string("server.log_level")).value_or(LogLevel::Info));
  } else {
    *log_ = std::move(std::get<Logger>(logger));
  }
  worker_->reload(*fresh, tls);
  retired_configs_.push_back(std::move(config_));
  config_ = std::move(fresh);
  log_->info("server", 0, "configuration and certificates reloaded");
}

void Server::stop() {
  if (stopping_) return;
  stopping_ = true;
  log_->info("server", 0, "stopping");
  for (uv_signal_t* s : signals_) uv_signal_stop(s);
  worker_->shutdown([this] { uv_stop(&loop_); });
}

}  // namespace parley::core
