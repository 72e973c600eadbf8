// The exec gateway: runs the configured program with the number and text as
// arguments (uv_spawn with an argv, no shell, so the text cannot inject
// commands), exit status 0 meaning sent. A child that outlives the timeout is
// killed and reported as a failure.
#include <csignal>

#include "modules/register/sms/gateway.hpp"

namespace parley::modules::sms {

namespace {

// One running child. It frees itself once both of its handles are closed;
// it reports only while the gateway that started it still exists.
struct Child {
  uv_process_t process{};
  uv_timer_t timer{};
  std::weak_ptr<bool> gateway_alive;
  SendDone done;
  int open_handles = 2;
  bool finished = false;

  void finish(SendResult result) {
    if (finished) return;
    finished = true;
    if (!gateway_alive.expired()) done(std::move(result));
    uv_timer_stop(&timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), on_close);
    // The process handle closes in the exit callback, or after the kill.
  }
  static void on_close(uv_handle_t* handle) {
    auto* child = static_cast<Child*>(handle->data);
    if (--child->open_handles == 0) delete child;
  }
};

class ExecGateway final : public Gateway {
 public:
  ExecGateway(uv_loop_t* loop, Settings settings) : loop_(loop), settings_(std::move(settings)) {}

  void send(const std::string& number, const std::string& text, SendDone done) override {
    std::vector<std::string> args{settings_.exec_program};
    for (const std::string& pattern : settings_.exec_args) args.push_back(expand(pattern, number, text));
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    auto* child = new Child;
    child->gateway_alive = alive_;
    child->done = std::move(done);
    child->process.data = child;
    child->timer.data = child;
    uv_process_options_t options{};
    options.file = argv[0];
    options.args = argv.data();
    options.exit_cb = [](uv_process_t* process, int64_t status, int signal) {
      auto* c = static_cast<Child*>(process->data);
      if (signal != 0) {
        c->finish({false, "the SMS program was killed by signal " + std::to_string(signal)});
      } else if (status != 0) {
        c->finish({false, "the SMS program exited with status " + std::to_string(status)});
      } else {
        c->finish({true, {}});
      }
      uv_close(reinterpret_cast<uv_handle_t*>(process), Child::on_close);
    };
    uv_stdio_container_t stdio[3];
    for (auto& s : stdio) s.flags = UV_IGNORE;
    options.stdio_count = 3;
    options.stdio = stdio;
    uv_timer_init(loop_, &child->timer);
    int rc = uv_spawn(loop_, &child->process, &options);
    if (rc != 0) {
      // libuv still wants the failed process handle closed.
      child->finish({false, std::string("cannot start the SMS program: ") + uv_strerror(rc)});
      uv_close(reinterpret_cast<uv_handle_t*>(&child->process), Child::on_close);
      return;
    }
    uv_timer_start(&child->timer, [](uv_timer_t* timer) {
      auto* c = static_cast<Child*>(timer->data);
      uv_process_kill(&c->process, SIGKILL);
      c->finish({false, "the SMS program timed out"});
    }, static_cast<uint64_t>(settings_.exec_timeout.count()), 0);
  }

 private:
  uv_loop_t* loop_;
  Settings settings_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

std::unique_ptr<Gateway> make_exec_gateway(uv_loop_t* loop, const Settings& settings) {
  return std::make_unique<ExecGateway>(loop, settings);
}

}  // namespace parley::modules::sms
