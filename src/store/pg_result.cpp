#include "store/pg_result.hpp"

#include <libpq-fe.h>

#include <charconv>

namespace parley::store {

PgResult PgResult::temporary_failure(std::string message) {
    PgResult result;
    result.ok = false;
    result.temporary = true;
    result.error = std::move(message);
    return result;
}

namespace {

std::uint64_t parse_affected_rows(const PGresult* result) {
    // PQcmdTuples returns "" for commands that do not report a count.
    const char* text = PQcmdTuples(const_cast<PGresult*>(result));
    std::uint64_t count = 0;
    if (text != nullptr) {
        std::string_view view(text);
        std::from_chars(view.data(), view.data() + view.size(), count);
    }
    return count;
}

std::string error_message(const PGresult* result) {
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    std::string message = primary != nullptr ? primary : PQresultErrorMessage(result);
    if (const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL)) {
        message += " (";
        message += detail;
        message += ")";
    }
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
        message.pop_back();
    }
    return message;
}

}  // namespace

PgResult convert_pg_result(const pg_result* result) {
    if (result == nullptr) {
        return PgResult::temporary_failure("no result from the database (out of memory or connection lost)");
    }
    PgResult out;
    switch (PQresultStatus(result)) {
    case PGRES_TUPLES_OK: {
        const int columns = PQnfields(result);
        const int rows = PQntuples(result);
        out.columns.reserve(columns);
        for (int c = 0; c < columns; ++c) out.columns.emplace_back(PQfname(result, c));
        out.rows.resize(rows);
        for (int r = 0; r < rows; ++r) {
            auto& row = out.rows[r];
            row.reserve(columns);
            for (int c = 0; c < columns; ++c) {
                if (PQgetisnull(result, r, c)) {
                    row.emplace_back(std::nullopt);
                } else {
                    row.emplace_back(std::string(PQgetvalue(result, r, c), PQgetlength(result, r, c)));
                }
            }
        }
        out.affected_rows = parse_affected_rows(result);
        out.ok = true;
        break;
    }
    case PGRES_COMMAND_OK:
    case PGRES_EMPTY_QUERY:
        out.affected_rows = parse_affected_rows(result);
        out.ok = true;
        break;
    case PGRES_PIPELINE_ABORTED:
        out.error = "not executed: an earlier command of the same request failed";
        break;
    case PGRES_FATAL_ERROR:
    case PGRES_NONFATAL_ERROR:
    case PGRES_BAD_RESPONSE: {
        out.error = error_message(result);
        if (const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE)) out.sqlstate = state;
        break;
    }
    default:
        // COPY and single-row mode are never requested by this layer.
        out.error = std::string("unexpected result status ") + PQresStatus(PQresultStatus(result));
        break;
    }
    return out;
}

}  // namespace parley::store
