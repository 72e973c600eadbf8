#pragma once
// Value types shared by the asynchronous (PgClient) and blocking (PgSync)
// PostgreSQL clients. Everything travels in libpq's text format.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct pg_result;  // libpq's PGresult; kept out of this header on purpose

namespace parley::store {

// Query parameters in text format ($1, $2, ...); std::nullopt is SQL NULL.
using PgParams = std::vector<std::optional<std::string>>;

// A named statement, declared as a constant by the code that uses it, e.g.
//   constexpr PgStatement kFindAccount{"find_account", "SELECT ... WHERE host = $1"};
// PgClient prepares it lazily, once per connection. Names must be unique
// per PgClient; the referenced text must outlive the call to execute().
struct PgStatement {
    std::string_view name;
    std::string_view sql;
};

// Outcome of one request.
struct PgResult {
    bool ok = false;
    // True when the request never reached a usable connection (not connected,
    // connection lost, client closed): callers answer with a temporary error
    // and may retry. False for SQL errors, which are permanent for that request.
    bool temporary = false;
    std::string error;     // human-readable message, empty when ok
    std::string sqlstate;  // five-character SQLSTATE for SQL errors, e.g. "23505"
    std::vector<std::string> columns;
    std::vector<std::vector<std::optional<std::string>>> rows;
    std::uint64_t affected_rows = 0;  // rows returned/inserted/updated/deleted

    std::size_t size() const { return rows.size(); }
    // Bounds-checked cell access (throws std::out_of_range on a bad index).
    const std::optional<std::string>& at(std::size_t row, std::size_t col) const {
        return rows.at(row).at(col);
    }

    static PgResult temporary_failure(std::string message);
};

// Converts one libpq result (tuples, command status or error) into a PgResult.
// A null pointer means libpq ran out of memory or lost the connection.
PgResult convert_pg_result(const pg_result* result);

}  // namespace parley::store
