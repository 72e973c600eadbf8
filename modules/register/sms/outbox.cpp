// The outbox gateway: one line per SMS appended to a file (time, number,
// text). The development and test default: the quick start prints where the
// codes go. A small append to a local file is the one blocking write we
// allow on the loop; it is not meant for production traffic.
#include <ctime>
#include <fstream>

#include "core/datetime.hpp"
#include "modules/register/sms/gateway.hpp"

namespace parley::modules::sms {

namespace {

class OutboxGateway final : public Gateway {
 public:
  explicit OutboxGateway(std::string path) : path_(std::move(path)) {}
  void send(const std::string& number, const std::string& text, SendDone done) override {
    const std::string stamp = core::xep0082_datetime(std::time(nullptr));
    std::ofstream out(path_, std::ios::app);
    out << stamp << '\t' << number << '\t' << text << '\n';
    out.flush();
    if (!out) {
      done({false, "cannot append to " + path_});
    } else {
      done({true, {}});
    }
  }

 private:
  std::string path_;
};

}  // namespace

std::unique_ptr<Gateway> make_outbox_gateway(const Settings& settings) {
  return std::make_unique<OutboxGateway>(settings.outbox_file);
}

}  // namespace parley::modules::sms
