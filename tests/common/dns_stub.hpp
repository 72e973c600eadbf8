#pragma once
// A tiny authoritative DNS server for tests: answers A, AAAA and SRV
// queries over UDP on a loopback port from a fixed table, on its own thread.
// Names it does not know get NXDOMAIN. Enough for c-ares (RFC 1035 §4).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace parley::test {

class DnsStub {
 public:
  struct Srv {
    uint16_t priority, weight, port;
    std::string target;
  };

  DnsStub() {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~DnsStub() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  DnsStub(const DnsStub&) = delete;
  DnsStub& operator=(const DnsStub&) = delete;

  uint16_t port() const { return port_; }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }
  int queries(const std::string& name) {
    std::lock_guard lock(mutex_);
    return asked_[lower(name)];
  }

  void add_a(const std::string& name, const std::string& ipv4) {
    in_addr a{};
    inet_pton(AF_INET, ipv4.c_str(), &a);
    std::string rdata(reinterpret_cast<const char*>(&a), 4);
    add(name, 1, rdata);
  }
  void add_srv(const std::string& name, const Srv& srv) {
    std::string rdata;
    put16(rdata, srv.priority);
    put16(rdata, srv.weight);
    put16(rdata, srv.port);
    rdata += encode_name(srv.target);
    add(name, 33, rdata);
  }

 private:
  static std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
  }
  static void put16(std::string& out, uint16_t v) {
    out += static_cast<char>(v >> 8);
    out += static_cast<char>(v & 0xff);
  }
  static std::string encode_name(const std::string& name) {
    std::string out;
    size_t start = 0;
    while (start < name.size()) {
      size_t dot = name.find('.', start);
      if (dot == std::string::npos) dot = name.size();
      out += static_cast<char>(dot - start);
      out += name.substr(start, dot - start);
      start = dot + 1;
    }
    out += '\0';
    return out;
  }
  void add(const std::string& name, uint16_t type, std::string rdata) {
    std::lock_guard lock(mutex_);
    records_[lower(name)].push_back({type, std::move(rdata)});
  }

  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      unsigned char query[512];
      sockaddr_in from{};
      socklen_t from_len = sizeof from;
      ssize_t n = recvfrom(fd_, query, sizeof query, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 17) continue;
      // The question: labels from offset 12, then type and class.
      size_t at = 12;
      std::string name;
      while (at < static_cast<size_t>(n) && query[at] != 0) {
        size_t len = query[at];
        if (!name.empty()) name += '.';
        name.append(reinterpret_cast<const char*>(query + at + 1), len);
        at += len + 1;
      }
      at += 1;
      if (at + 4 > static_cast<size_t>(n)) continue;
      uint16_t qtype = static_cast<uint16_t>(query[at] << 8 | query[at + 1]);
      size_t question_end = at + 4;
      std::string response(reinterpret_cast<const char*>(query), question_end);
      std::vector<std::string> answers;
      bool known;
      {
        std::lock_guard lock(mutex_);
        ++asked_[lower(name)];
        auto it = records_.find(lower(name));
        known = it != records_.end();
        if (known) {
          for (const auto& [type, rdata] : it->second) {
            if (type != qtype) continue;
            std::string rr;
            put16(rr, 0xC00C);  // the name: a pointer to the question
            put16(rr, type);
            put16(rr, 1);       // IN
            rr += std::string("\0\0\0\x3c", 4);  // TTL 60
            put16(rr, static_cast<uint16_t>(rdata.size()));
            rr += rdata;
            answers.push_back(rr);
          }
        }
      }
      response[2] = static_cast<char>(0x84 | (query[2] & 0x01));  // QR, AA, RD copied
      response[3] = static_cast<char>(known ? 0x80 : 0x83);        // RA; NXDOMAIN if unknown
      response[6] = 0;
      response[7] = static_cast<char>(answers.size());
      for (int i = 8; i < 12; ++i) response[i] = 0;
      for (const std::string& rr : answers) response += rr;
      sendto(fd_, response.data(), response.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::map<std::string, std::vector<std::pair<uint16_t, std::string>>> records_;
  std::map<std::string, int> asked_;
};

}  // namespace parley::test
