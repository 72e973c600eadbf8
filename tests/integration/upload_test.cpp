// HTTP File Upload (XEP-0363): slots from upload.localhost, PUT and GET over
// the built-in HTTPS server with curl, and every refusal the XEP and the
// issue list: wrong size, wrong type, second PUT, bad signature, expired
// slot, too large, quota, path traversal, interrupted upload; expiry and
// account deletion remove the files.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <csignal>
#include <map>
#include <random>
#include <thread>
#include <tuple>

#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "store/pg_sync.hpp"
#include "test_util.hpp"

using namespace parley;
using namespace parley::test;

namespace {

constexpr std::string_view kUploadNs = "urn:xmpp:http:upload:0";

ServerOptions upload_options(const std::string& extra = {}) {
  ServerOptions options;
  options.modules = {"disco", "upload"};
  options.extra_config = extra;
  return options;
}

struct Fixture {
  TestServer server;
  bool users_added;
  RawClient alice;
  explicit Fixture(ServerOptions options = upload_options())
      : server(std::move(options)), users_added(add_users()), alice(server.starttls_port()) {
    alice.login("alice", "a", "desk");
  }
  bool add_users() {
    server.add_user("alice@localhost", "a");
    server.add_user("bob@localhost", "b");
    return true;
  }
  std::filesystem::path dir() const { return server.dir() / "uploads" / "localhost"; }
};

xml::Element request_slot(RawClient& client, const std::string& filename, uint64_t size,
                          const std::string& type = "image/jpeg") {
  std::string payload = "<request xmlns='urn:xmpp:http:upload:0' size='" + std::to_string(size) + "'";
  // The name is put in an attribute by hand: escape what XML needs.
  std::string escaped;
  for (char c : filename) escaped += c == '&' ? std::string("&amp;") : c == '\'' ? std::string("&apos;") : std::string(1, c);
  payload += " filename='" + escaped + "'";
  if (!type.empty()) payload += " content-type='" + type + "'";
  payload += "/>";
  return ask(client, "upload.localhost", payload);
}

struct Slot {
  std::string put, get;
};

Slot slot_urls(const xml::Element& answer) {
  REQUIRE(answer.attr("type") == "result");
  const xml::Element* slot = answer.first_child("slot", kUploadNs);
  REQUIRE(slot);
  REQUIRE(slot->first_child("put", kUploadNs));
  REQUIRE(slot->first_child("get", kUploadNs));
  return {std::string(slot->first_child("put", kUploadNs)->attr("url")),
          std::string(slot->first_child("get", kUploadNs)->attr("url"))};
}

struct Reply {
  int code = 0;
  std::string headers;  // as curl wrote them (-D)
  std::string body;
};

// curl against the test server's self-signed certificate; returns the status
// code and what came back.
Reply curl(TestServer& server, std::vector<std::string> args, const std::string& url) {
  std::filesystem::path head = server.dir() / "curl.head", body = server.dir() / "curl.body";
  std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "-k", "-D", head.string(), "-o", body.string(), "-w", "%{http_code}"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(url);
  std::string output;
  run_program(argv, output);
  Reply reply;
  try {
    reply.code = std::stoi(output.substr(output.size() >= 3 ? output.size() - 3 : 0));
  } catch (const std::exception&) {
    reply.code = 0;
  }
  std::ifstream h(head, std::ios::binary), b(body, std::ios::binary);
  reply.headers.assign(std::istreambuf_iterator<char>(h), {});
  reply.body.assign(std::istreambuf_iterator<char>(b), {});
  std::filesystem::remove(head);
  std::filesystem::remove(body);
  return reply;
}

std::filesystem::path random_file(TestServer& server, const std::string& name, size_t size) {
  std::filesystem::path path = server.dir() / name;
  std::mt19937_64 random(size);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}


Reply put_file(TestServer& server, const std::string& url, const std::filesystem::path& file,
               const std::string& type = "image/jpeg", std::vector<std::string> extra = {}) {
  // An empty type sends no Content-Type at all (curl drops its default).
  std::vector<std::string> args = {"-X", "PUT", "-H", "Content-Type:" + (type.empty() ? type : " " + type),
                                   "--data-binary", "@" + file.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return curl(server, args, url);
}

bool has_header(const Reply& reply, const std::string& line) {
  return reply.headers.find(line + "\r\n") != std::string::npos;
}

long rows(TestServer& server, const std::string& where) {
  store::PgSync db(server.conninfo());
  store::PgResult r = db.exec("SELECT count(*) FROM upload_slots WHERE " + where, {});
  REQUIRE(r.ok);
  return std::stol(*r.at(0, 0));
}

size_t files_in(const std::filesystem::path& dir) {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) n += entry.is_regular_file() ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("upload: the host lists upload.localhost, which announces XEP-0363 and its max-file-size") {
  Fixture f(upload_options("[modules.upload]\nmax_file_size = \"5MiB\"\n"));
  xml::Element items = ask(f.alice, "localhost", "<query xmlns='http://jabber.org/protocol/disco#items'/>");
  const xml::Element* item = items.first_child("query")->first_child("item");
  REQUIRE(item);
  CHECK(item->attr("jid") == "upload.localhost");

  xml::Element info = ask(f.alice, "upload.localhost", "<query xmlns='http://jabber.org/protocol/disco#info'/>");
  REQUIRE(info.attr("type") == "result");
  CHECK(info.attr("from") == "upload.localhost");
  const xml::Element* query = info.first_child("query");
  const xml::Element* identity = query->first_child("identity");
  REQUIRE(identity);
  CHECK(identity->attr("category") == "store");
  CHECK(identity->attr("type") == "file");
  bool feature = false;
  for (const xml::Element& child : query->children()) feature |= child.name() == "feature" && child.attr("var") == kUploadNs;
  CHECK(feature);
  const xml::Element* form = query->first_child("x", "jabber:x:data");
  REQUIRE(form);
  std::map<std::string, std::string> fields;
  for (const xml::Element& field : form->children()) fields[std::string(field.attr("var"))] = field.first_child("value")->text();
  CHECK(fields["FORM_TYPE"] == kUploadNs);
  CHECK(fields["max-file-size"] == "5242880");
}

TEST_CASE("upload: a 20 MiB file goes up with PUT and comes back byte-identical with GET, HEAD and ranges") {
  Fixture f;
  constexpr size_t kSize = 20 << 20;
  std::filesystem::path file = random_file(f.server, "photo.bin", kSize);
  Slot slot = slot_urls(request_slot(f.alice, "très cool.jpg", kSize));
  std::string prefix = "https://localhost:" + std::to_string(f.server.http_port()) + "/upload/localhost/";
  CHECK(slot.put.starts_with(prefix));
  CHECK(slot.get.starts_with(prefix));
  CHECK(slot.get.ends_with("/tr%C3%A8s%20cool.jpg"));
  CHECK(slot.put.find("?expires=") != std::string::npos);
  CHECK(rows(f.server, "state = 'pending' AND username = 'alice' AND size = 20971520") == 1);

  // Before the upload the GET URL serves nothing.
  CHECK(curl(f.server, {}, slot.get).code == 404);

  Reply put = put_file(f.server, slot.put, file);
  CHECK(put.code == 201);
  CHECK(rows(f.server, "state = 'complete'") == 1);

  Reply get = curl(f.server, {}, slot.get);
  CHECK(get.code == 200);
  CHECK(get.body.size() == kSize);
  CHECK(get.body == read_file(file));
  CHECK(has_header(get, "Content-Length: 20971520"));
  CHECK(has_header(get, "Content-Type: image/jpeg"));
  CHECK(has_header(get, "Content-Disposition: inline; filename*=UTF-8''tr%C3%A8s%20cool.jpg"));
  CHECK(has_header(get, "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; sandbox"));
  CHECK(has_header(get, "X-Content-Type-Options: nosniff"));

  Reply head = curl(f.server, {"-I"}, slot.get);
  CHECK(head.code == 200);
  CHECK(has_header(head, "Content-Length: 20971520"));
  CHECK(head.body == head.headers);  // curl -I writes the head as the body: nothing else came

  Reply range = curl(f.server, {"-H", "Range: bytes=100-199"}, slot.get);
  CHECK(range.code == 206);
  CHECK(has_header(range, "Content-Range: bytes 100-199/20971520"));
  CHECK(range.body == read_file(file).substr(100, 100));
  Reply suffix = curl(f.server, {"-H", "Range: bytes=-10"}, slot.get);
  CHECK(suffix.code == 206);
  CHECK(suffix.body == read_file(file).substr(kSize - 10));
  Reply beyond = curl(f.server, {"-H", "Range: bytes=30000000-"}, slot.get);
  CHECK(beyond.code == 416);
  CHECK(has_header(beyond, "Content-Range: bytes */20971520"));

  // Keep-alive: two requests on one connection (curl reuses it for two URLs).
  std::string output;
  run_program({"/usr/bin/curl", "-sS", "-k", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{num_connects} ", slot.get + "x",
               slot.get},
              output);
  CHECK(output == "1 0 ");
}

TEST_CASE("upload: only the slot's size and type, once, with a valid signature, before it expires") {
  Fixture f;
  std::filesystem::path file = random_file(f.server, "doc.bin", 1000);
  std::filesystem::path shorter = random_file(f.server, "short.bin", 999);
  std::filesystem::path longer = random_file(f.server, "long.bin", 1001);

  Slot slot = slot_urls(request_slot(f.alice, "doc.pdf", 1000, "application/pdf"));
  CHECK(put_file(f.server, slot.put, longer, "application/pdf").code == 413);
  CHECK(put_file(f.server, slot.put, shorter, "application/pdf").code == 400);
  // A body without a declared length cannot be checked against the slot.
  CHECK(put_file(f.server, slot.put, file, "application/pdf", {"-H", "Transfer-Encoding: chunked"}).code == 411);
  CHECK(put_file(f.server, slot.put, file, "text/html").code == 415);
  CHECK(put_file(f.server, slot.put, file, "").code == 415);
  std::string tampered = slot.put;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  CHECK(put_file(f.server, tampered, file, "application/pdf").code == 403);
  CHECK(put_file(f.server, slot.get, file, "application/pdf").code == 403);  // the GET URL is not signed
  CHECK(rows(f.server, "state = 'pending'") == 1);

  CHECK(put_file(f.server, slot.put, file, "application/pdf").code == 201);
  CHECK(put_file(f.server, slot.put, file, "application/pdf").code == 409);
  Reply get = curl(f.server, {}, slot.get);
  CHECK(get.code == 200);
  CHECK(has_header(get, "Content-Disposition: attachment; filename*=UTF-8''doc.pdf"));

  // An expired slot: aged in the database instead of waiting.
  Slot old = slot_urls(request_slot(f.alice, "late.pdf", 1000, "application/pdf"));
  {
    store::PgSync db(f.server.conninfo());
    REQUIRE(db.exec("UPDATE upload_slots SET put_deadline = now() - interval '1 second' WHERE filename = 'late.pdf'", {})
                .ok);
  }
  Reply late = put_file(f.server, old.put, file, "application/pdf");
  CHECK(late.code == 403);
  CHECK(late.body == "this upload slot has expired\n");
  CHECK(files_in(f.dir()) == 1);
}

TEST_CASE("upload: too large and over quota get the XEP-0363 errors with the limits") {
  Fixture f(upload_options("[modules.upload]\nmax_file_size = \"1000B\"\nquota = \"1500B\"\n"));
  xml::Element big = request_slot(f.alice, "big.mov", 1001, "video/quicktime");
  CHECK(big.attr("type") == "error");
  CHECK(condition_of(big, kStanzaErrors) == "not-acceptable");
  const xml::Element* error = big.first_child("error");
  CHECK(error->attr("type") == "modify");
  CHECK(error->first_child("text")->text() == "File too large. The maximum file size is 1000 bytes");
  const xml::Element* too_large = error->first_child("file-too-large", kUploadNs);
  REQUIRE(too_large);
  CHECK(too_large->first_child("max-file-size", kUploadNs)->text() == "1000");

  slot_urls(request_slot(f.alice, "one.jpg", 1000));
  xml::Element over = request_slot(f.alice, "two.jpg", 501);
  CHECK(condition_of(over, kStanzaErrors) == "resource-constraint");
  CHECK(over.first_child("error")->attr("type") == "wait");
  CHECK(over.first_child("error")->first_child("text")->text() == "Quota reached. Each account may store 1500 bytes of files");
  const xml::Element* retry = over.first_child("error")->first_child("retry", kUploadNs);
  REQUIRE(retry);
  CHECK(retry->attr("stamp").size() == 20);
  slot_urls(request_slot(f.alice, "fits.jpg", 500));
  CHECK(rows(f.server, "username = 'alice'") == 2);
}

namespace {

// A slot request as it goes on the wire, to send several in one write.
std::string slot_iq(const std::string& id, uint64_t size) {
  return "<iq type='get' id='" + id + "' to='upload.localhost'><request xmlns='urn:xmpp:http:upload:0' size='" +
         std::to_string(size) + "' filename='" + id + ".jpg' content-type='image/jpeg'/></iq>";
}

// Waits for `count` IQ answers; returns how many granted a slot, and checks
// that the others are the quota error.
int granted_slots(RawClient& client, size_t count) {
  int granted = 0;
  for (size_t i = 0; i < count; ++i) {
    std::optional<xml::Element> answer = client.next_named("iq");
    REQUIRE(answer);
    if (answer->attr("type") == "result") {
      ++granted;
      continue;
    }
    CHECK(condition_of(*answer, kStanzaErrors) == "resource-constraint");
    CHECK(answer->first_child("error")->first_child("text")->text() ==
          "Quota reached. Each account may store 10000 bytes of files");
  }
  return granted;
}

constexpr const char* kTenSlots = "[modules.upload]\nmax_file_size = \"1000B\"\nquota = \"10000B\"\n";

}  // namespace

TEST_CASE("upload: slot requests in flight together cannot pass the quota") {
  Fixture f(upload_options(kTenSlots));
  SUBCASE("two requests of one session, sent in one write") {
    // The second reaches the server before the first is answered; each fits
    // the quota alone, not together. (One server's statements run in order
    // on its one database connection.)
    for (int i = 0; i < 9; ++i) slot_urls(request_slot(f.alice, "stored" + std::to_string(i) + ".jpg", 1000));
    f.alice.send(slot_iq("first", 600) + slot_iq("second", 600));
    CHECK(granted_slots(f.alice, 2) == 1);
    CHECK(rows(f.server, "username = 'alice'") == 10);
  }
  SUBCASE("bursts from two servers that share the database") {
    ServerOptions options = upload_options(kTenSlots);
    options.database = f.server.conninfo();
    TestServer other(options);
    RawClient phone(other.starttls_port());
    phone.login("alice", "a", "phone");
    // Two connections: without the per-account lock the two statements at
    // the quota's edge may both see nine files, and both insert. Each round
    // is one chance for that, so a few.
    store::PgSync db(f.server.conninfo());
    for (int round = 0; round < 4; ++round) {
      std::string desk_burst, phone_burst;
      for (int i = 0; i < 10; ++i) {
        std::string suffix = std::to_string(round) + "-" + std::to_string(i);
        desk_burst += slot_iq("desk" + suffix, 1000);
        phone_burst += slot_iq("phone" + suffix, 1000);
      }
      f.alice.send(desk_burst);
      phone.send(phone_burst);
      int granted = granted_slots(f.alice, 10);
      granted += granted_slots(phone, 10);
      CHECK(granted == 10);
      CHECK(rows(f.server, "username = 'alice'") == 10);
      REQUIRE(db.exec("DELETE FROM upload_slots", {}).ok);
    }
  }
}

TEST_CASE("upload: names and paths cannot reach outside the upload directory") {
  Fixture f;
  for (const char* name : {"../../parley.toml", "a/b.jpg", "..", "back\\slash.jpg", ""}) {
    xml::Element answer = request_slot(f.alice, name, 10);
    CHECK_MESSAGE(condition_of(answer, kStanzaErrors) == "bad-request", name);
  }
  CHECK(condition_of(request_slot(f.alice, "x.jpg", 10, "text/html\r\nSet-Cookie: a=b"), kStanzaErrors) ==
        "bad-request");
  CHECK(condition_of(ask(f.alice, "upload.localhost", "<request xmlns='urn:xmpp:http:upload:0' filename='x' size='-1'/>"),
                     kStanzaErrors) == "bad-request");
  CHECK(rows(f.server, "true") == 0);

  std::string base = "https://localhost:" + std::to_string(f.server.http_port()) + "/upload/localhost/";
  for (const char* path : {"../../parley.toml", "..%2F..%2Fparley.toml", "AAAAAAAAAAAAAAAAAAAAAA/..%2F..%2Fparley.toml",
                           "upload.secret", "..%2Fupload.secret/x"}) {
    CHECK_MESSAGE(curl(f.server, {"--path-as-is"}, base + path).code == 404, path);
  }
  CHECK(curl(f.server, {}, "https://localhost:" + std::to_string(f.server.http_port()) + "/nothing-here").code == 404);
}

TEST_CASE("upload: an interrupted upload leaves neither a file nor a slot") {
  Fixture f;
  constexpr size_t kSize = 8 << 20;
  std::filesystem::path file = random_file(f.server, "big.bin", kSize);
  Slot slot = slot_urls(request_slot(f.alice, "big.bin", kSize, "application/octet-stream"));
  // curl gives up after 1 s at 1 MB/s: the server sees the connection end mid-body.
  Reply cut = put_file(f.server, slot.put, file, "application/octet-stream", {"--limit-rate", "1M", "-m", "1"});
  CHECK(cut.code != 201);
  CHECK(eventually([&] { return rows(f.server, "true") == 0 && files_in(f.dir()) == 0; }));
  CHECK(curl(f.server, {}, slot.get).code == 404);
}

TEST_CASE("upload: an upload cut off by stopping parleyd is removed when it starts again") {
  Fixture f;
  constexpr size_t kSize = 8 << 20;
  std::filesystem::path file = random_file(f.server, "cut.bin", kSize);
  Slot slot = slot_urls(request_slot(f.alice, "cut.bin", kSize, "application/octet-stream"));
  Reply put;
  std::thread uploader([&] {
    put = put_file(f.server, slot.put, file, "application/octet-stream", {"--limit-rate", "1M"});
  });
  REQUIRE(eventually([&] { return rows(f.server, "state = 'uploading'") == 1 && files_in(f.dir()) == 1; }));
  f.server.kill_hard();  // no chance to clean up
  uploader.join();
  CHECK(put.code != 201);
  CHECK(rows(f.server, "state = 'uploading'") == 1);
  CHECK(files_in(f.dir()) == 1);  // the .part file
  f.server.start();
  CHECK(eventually([&] { return rows(f.server, "true") == 0 && files_in(f.dir()) == 0; }));
  CHECK(f.server.log().find("removing 1 uploads cut off by the last stop") != std::string::npos);
}

TEST_CASE("upload: expired files are removed by the cleanup task, and with their owner's account") {
  Fixture f(upload_options("[modules.upload]\ncleanup_interval = \"1s\"\nexpire_after = \"1h\"\n"));
  std::filesystem::path file = random_file(f.server, "f.bin", 100);
  Slot first = slot_urls(request_slot(f.alice, "first.jpg", 100));
  Slot second = slot_urls(request_slot(f.alice, "second.jpg", 100));
  REQUIRE(put_file(f.server, first.put, file).code == 201);
  REQUIRE(put_file(f.server, second.put, file).code == 201);
  REQUIRE(files_in(f.dir()) == 2);
  {
    store::PgSync db(f.server.conninfo());
    REQUIRE(db.exec("UPDATE upload_slots SET created_at = now() - interval '2 hours' WHERE filename = 'first.jpg'", {}).ok);
  }
  CHECK(eventually([&] { return rows(f.server, "true") == 1 && files_in(f.dir()) == 1; }));
  CHECK(curl(f.server, {}, first.get).code == 404);

  // An upload cut off by a stop of parleyd: its row stays 'uploading' with a
  // .part file; a day past its PUT deadline both go.
  {
    store::PgSync db(f.server.conninfo());
    REQUIRE(db.exec("INSERT INTO upload_slots (slot, host, username, filename, size, content_type, state, "
                    "put_deadline) VALUES ('cutcutcutcutcutcutcutc', 'localhost', 'alice', 'cut.jpg', 10, "
                    "'image/jpeg', 'uploading', now() - interval '2 days')",
                    {})
                .ok);
  }
  std::ofstream(f.dir() / "cutcutcutcutcutcutcutc.part") << "half";
  CHECK(eventually([&] { return rows(f.server, "true") == 1 && files_in(f.dir()) == 1; }));
  CHECK_FALSE(std::filesystem::exists(f.dir() / "cutcutcutcutcutcutcutc.part"));
  CHECK(curl(f.server, {}, second.get).code == 200);

  std::string out;
  CHECK(f.server.parleyctl({"user", "del", "alice@localhost"}, out) == 0);
  CHECK(eventually([&] { return rows(f.server, "true") == 0 && files_in(f.dir()) == 0; }));
  CHECK(curl(f.server, {}, second.get).code == 404);
}

TEST_CASE("upload: behind a reverse proxy, slots carry the external URL and plain HTTP serves them") {
  uint16_t tls_port = free_port(), plain_port = free_port();
  Fixture f(upload_options("[http]\nbind_addresses = [\"127.0.0.1\"]\ntls_port = " + std::to_string(tls_port) +
                           "\nport = " + std::to_string(plain_port) +
                           "\n\n[hosts.\"localhost\"]\nmodules_enabled = [\"disco\", \"upload\"]\n\n"
                           "[hosts.\"localhost\".http]\nexternal_url = \"https://files.example.org/chat\"\n"));
  std::filesystem::path file = random_file(f.server, "p.bin", 5000);
  Slot slot = slot_urls(request_slot(f.alice, "p.png", 5000, "image/png"));
  const std::string external = "https://files.example.org/chat/upload/localhost/";
  REQUIRE(slot.put.starts_with(external));
  REQUIRE(slot.get.starts_with(external));
  // What the proxy forwards: the path after its own prefix, over plain HTTP.
  std::string local = "http://127.0.0.1:" + std::to_string(plain_port) + "/upload/localhost/";
  CHECK(put_file(f.server, local + slot.put.substr(external.size()), file, "image/png").code == 201);
  Reply get = curl(f.server, {}, local + slot.get.substr(external.size()));
  CHECK(get.code == 200);
  CHECK(get.body == read_file(file));
  // The HTTPS listener serves the same routes.
  CHECK(curl(f.server, {}, "https://localhost:" + std::to_string(tls_port) + "/upload/localhost/" +
                               slot.get.substr(external.size()))
            .code == 200);
}

TEST_CASE("upload: a SIGHUP reload keeps stored files and hands out new slots") {
  Fixture f;
  std::filesystem::path file = random_file(f.server, "r.bin", 2000);
  Slot before = slot_urls(request_slot(f.alice, "before.jpg", 2000));
  REQUIRE(put_file(f.server, before.put, file).code == 201);
  f.server.signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(curl(f.server, {}, before.get).body == read_file(file));
  Slot after = slot_urls(request_slot(f.alice, "after.jpg", 2000));
  CHECK(put_file(f.server, after.put, file).code == 201);
  CHECK(curl(f.server, {}, after.get).code == 200);
}

TEST_CASE("upload: an upload in progress completes across a SIGHUP reload") {
  Fixture f;
  constexpr size_t kSize = 4 << 20;
  std::filesystem::path file = random_file(f.server, "slow.bin", kSize);
  Slot slot = slot_urls(request_slot(f.alice, "slow.bin", kSize, "application/octet-stream"));
  Reply put;
  // About 2 s at 2 MB/s; the reload comes in the middle.
  std::thread uploader([&] {
    put = put_file(f.server, slot.put, file, "application/octet-stream", {"--limit-rate", "2M"});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  f.server.signal(SIGHUP);
  uploader.join();
  CHECK(put.code == 201);
  CHECK(curl(f.server, {}, slot.get).body == read_file(file));
}

TEST_CASE("upload: uploaded HTML and SVG are served as attachments that cannot run script") {
  Fixture f;
  for (auto [name, type, content] :
       {std::tuple<std::string, std::string, std::string>{"page.html", "text/html",
                                                          "<html><script>alert(document.cookie)</script></html>"},
        {"image.svg", "image/svg+xml", "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"}}) {
    std::filesystem::path file = f.server.dir() / name;
    std::ofstream(file, std::ios::binary) << content;
    Slot slot = slot_urls(request_slot(f.alice, name, content.size(), type));
    REQUIRE(put_file(f.server, slot.put, file, type).code == 201);
    Reply get = curl(f.server, {}, slot.get);
    CHECK(get.code == 200);
    CHECK(get.body == content);
    CHECK(has_header(get, "Content-Type: " + type));
    CHECK(has_header(get, "Content-Disposition: attachment; filename*=UTF-8''" + name));
    CHECK(has_header(get, "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; sandbox"));
    CHECK(has_header(get, "X-Content-Type-Options: nosniff"));
  }
}
