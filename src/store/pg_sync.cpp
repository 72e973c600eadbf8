#include "store/pg_sync.hpp"

#include <libpq-fe.h>

#include <vector>

namespace parley::store {

PgSync::PgSync(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
    if (conn_ == nullptr) {
        connect_error_ = "out of memory creating the connection";
    } else if (PQstatus(conn_) != CONNECTION_OK) {
        connect_error_ = PQerrorMessage(conn_);
        while (!connect_error_.empty() && connect_error_.back() == '\n') connect_error_.pop_back();
    } else {
        // Server NOTICEs ("already exists, skipping") are not for the user's terminal.
        PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
    }
}

PgSync::~PgSync() {
    if (conn_ != nullptr) PQfinish(conn_);
}

bool PgSync::connected() const {
    return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
}

PgResult PgSync::finish(pg_result* result) {
    PgResult out = convert_pg_result(result);
    if (result != nullptr) PQclear(result);
    // A failure on a broken connection is temporary, like in PgClient.
    if (!out.ok && !connected()) {
        out.temporary = true;
        if (out.error.empty()) out.error = "not connected to the database";
    }
    return out;
}

PgResult PgSync::exec(std::string_view sql, const PgParams& params) {
    if (!connected()) return PgResult::temporary_failure("not connected to the database: " + connect_error_);
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& param : params) values.push_back(param ? param->c_str() : nullptr);
    const std::string text(sql);
    return finish(PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0));
}

PgResult PgSync::exec_script(const std::string& sql) {
    if (!connected()) return PgResult::temporary_failure("not connected to the database: " + connect_error_);
    return finish(PQexec(conn_, sql.c_str()));
}

}  // namespace parley::store
