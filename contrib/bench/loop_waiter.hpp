// Runs a libuv loop until a condition holds or a deadline passes, so that
// no wait in a scenario can hang on a broken server.
#pragma once

#include <uv.h>

#include <functional>

namespace parley::bench {

class LoopWaiter {
 public:
  explicit LoopWaiter(uv_loop_t* loop);
  ~LoopWaiter();  // closes its handles and lets the loop finish closing them
  LoopWaiter(const LoopWaiter&) = delete;
  LoopWaiter& operator=(const LoopWaiter&) = delete;

  // Runs the loop until done() returns true (checked after I/O and again
  // before blocking for I/O, which catches changes made in close
  // callbacks, so the exit is prompt) or timeout_s elapses. on_turn, if
  // set, runs once per iteration before done() — scenarios batch their
  // output there. Returns done()'s last value.
  bool run_until(const std::function<bool()>& done, double timeout_s,
                 const std::function<void()>& on_turn = {});

  // Runs the loop for a fixed time (a settle period).
  void sleep(double seconds) { run_until([] { return false; }, seconds); }

 private:
  static void on_check(uv_check_t* check);
  static void on_prepare(uv_prepare_t* prepare);
  void check_done();
  static void on_timer(uv_timer_t* timer);

  uv_loop_t* loop_;
  uv_check_t* check_;  // freed in the close callback
  uv_prepare_t* prepare_;  // freed in the close callback
  uv_timer_t* timer_;  // freed in the close callback
  const std::function<bool()>* done_ = nullptr;
  const std::function<void()>* on_turn_ = nullptr;
  bool result_ = false;
};

}  // namespace parley::bench
