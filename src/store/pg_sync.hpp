#pragma once
// Blocking PostgreSQL connection for parleyctl and start-up (migrations,
// embedded cluster bootstrap). Never use it on a server event loop: use
// PgClient there.

#include "store/pg_result.hpp"

#include <string>
#include <string_view>

struct pg_conn;  // libpq's PGconn

namespace parley::store {

class PgSync {
public:
    // Connects at once (blocking); check connected() / connect_error().
    explicit PgSync(const std::string& conninfo);
    ~PgSync();
    PgSync(const PgSync&) = delete;
    PgSync& operator=(const PgSync&) = delete;

    bool connected() const;
    const std::string& connect_error() const { return connect_error_; }

    // One statement through PQexecParams ($1... placeholders, text format).
    PgResult exec(std::string_view sql, const PgParams& params = {});
    // Several ';'-separated statements through PQexec (simple protocol, no
    // parameters): migration files. Stops at the first error.
    PgResult exec_script(const std::string& sql);

private:
    PgResult finish(pg_result* result);

    pg_conn* conn_ = nullptr;
    std::string connect_error_;
};

}  // namespace parley::store
