"""What the interop scripts share: a checklist, loopback ports, and the end of a run."""
import os
import shutil
import socket
import sys
import time

failures = []


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what, flush=True)
    if not condition:
        failures.append(what)


def parleyd_config_head(starttls_port, direct_tls_port=0, https_port=0):
    """The start of every interop parleyd config: state in the run's
    directory, the embedded PostgreSQL, debug logs, c2s on loopback, and
    HTTPS on loopback only where the test asks for it (0: off), never on the
    default 5281 that a quickstart server may be holding."""
    return f"""[server]
state_dir = "."
log_level = "debug"
[database]
embedded = true
[c2s]
bind_addresses = ["127.0.0.1"]
starttls_port = {starttls_port}
direct_tls_port = {direct_tls_port}
[auth]
scram_iterations = 4096
[http]
bind_addresses = ["127.0.0.1"]
tls_port = {https_port}
"""


# A port is free only until the server binds it, later: two calls in a row
# may get the same one from the kernel, so none is handed out twice.
_handed_out_ports = set()


def free_port():
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out_ports:
            _handed_out_ports.add(port)
            return port


def wait_port(port, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def finish_parleyd_run(server, log, tmp, what):
    """Stops parleyd if it still runs, shows its log tail on failure, removes
    the run's directory, and exits 1 if any check failed."""
    if server and server.poll() is None:
        server.kill()
    log.close()
    if failures:
        print("---- parleyd log ----")
        print(open(os.path.join(tmp, "parleyd.log")).read()[-6000:])
    shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} interop check(s) failed")
        sys.exit(1)
    print(f"all {what} checks passed")
