#include "loop_waiter.hpp"

namespace parley::bench {

LoopWaiter::LoopWaiter(uv_loop_t* loop)
    : loop_(loop), check_(new uv_check_t), prepare_(new uv_prepare_t), timer_(new uv_timer_t) {
  uv_check_init(loop_, check_);
  uv_prepare_init(loop_, prepare_);
  prepare_->data = this;
  uv_timer_init(loop_, timer_);
  check_->data = this;
  timer_->data = this;
}

LoopWaiter::~LoopWaiter() {
  uv_close(reinterpret_cast<uv_handle_t*>(check_), [](uv_handle_t* h) { delete reinterpret_cast<uv_check_t*>(h); });
  uv_close(reinterpret_cast<uv_handle_t*>(prepare_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_prepare_t*>(h); });
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  uv_run(loop_, UV_RUN_NOWAIT);
}

bool LoopWaiter::run_until(const std::function<bool()>& done, double timeout_s,
                           const std::function<void()>& on_turn) {
  if (on_turn) on_turn();
  if (done()) return true;
  done_ = &done;
  on_turn_ = on_turn ? &on_turn : nullptr;
  result_ = false;
  uv_update_time(loop_);
  uv_check_start(check_, on_check);
  uv_prepare_start(prepare_, on_prepare);
  uv_timer_start(timer_, on_timer, static_cast<uint64_t>(timeout_s * 1000.0), 0);
  uv_run(loop_, UV_RUN_DEFAULT);
  uv_check_stop(check_);
  uv_prepare_stop(prepare_);
  uv_timer_stop(timer_);
  done_ = nullptr;
  on_turn_ = nullptr;
  return result_;
}

void LoopWaiter::on_check(uv_check_t* check) {
  auto* self = static_cast<LoopWaiter*>(check->data);
  if (!self->done_) return;
  if (self->on_turn_) (*self->on_turn_)();
  self->check_done();
}

// libuv runs close callbacks after the check phase; without this second
// look the loop would block in poll until the deadline after the last close.
void LoopWaiter::on_prepare(uv_prepare_t* prepare) {
  auto* self = static_cast<LoopWaiter*>(prepare->data);
  if (self->done_) self->check_done();
}

void LoopWaiter::check_done() {
  if ((*done_)()) {
    result_ = true;
    uv_stop(loop_);
  }
}

void LoopWaiter::on_timer(uv_timer_t* timer) {
  auto* self = static_cast<LoopWaiter*>(timer->data);
  if (self->done_) self->result_ = (*self->done_)();
  uv_stop(self->loop_);
}

}  // namespace parley::bench
