#pragma once
// Runs a helper program (initdb, pg_ctl, runuser, useradd) to completion
// without a shell: arguments are passed as a vector, never re-parsed.
// Blocking; used only at start-up and by parleyctl, never on an event loop.

#include <string>
#include <vector>

namespace parley::store {

struct ChildResult {
    bool started = false;   // false: the program could not be spawned (see error)
    int exit_code = -1;     // exit status, or 128 + signal number
    std::string output;     // stdout and stderr, interleaved
    std::string error;      // spawn failure description
};

// argv[0] is looked up in PATH when it contains no '/'. The child runs with
// the current environment, stdin from /dev/null and working directory "/"
// (so a dropped-privilege child never trips over an unreadable cwd).
ChildResult run_child(const std::vector<std::string>& argv);

}  // namespace parley::store
