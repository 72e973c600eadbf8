#!/usr/bin/python3
"""Interop: federation between parleyd and ejabberd (Debian's ejabberd 23.01).

Like s2s_prosody_test.py, with a private ejabberd node (own ejabberd.yml,
ejabberdctl.cfg, Mnesia spool, node name and logs; run as the ejabberd user
through setpriv when we are root) for e.localhost. ejabberd has no static
s2s routes: it finds parleyd by DNS, an SRV and an A record served by a stub
DNS server in this script, which an Erlang inetrc file (ERL_INETRC, which
ejabberdctl points at its config dir) makes its name server. ejabberd's dialback module is not loaded, so links
authenticate by certificate. With slixmpp clients: messages both ways and
subscriptions started on each side reaching 'both'.

ejabberd looks up the SRV record with its own DNS client (the stub) but
resolves the SRV target with the system's resolver, so the record points at
"localhost" (/etc/hosts), where parleyd listens. Run by hand, KEEP=1 keeps
the logs.
Usage: s2s_ejabberd_test.py PARLEYD PARLEYCTL
"""
import asyncio
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from federation_conversation import federation_conversation  # noqa: E402
from interop_common import check, parleyd_config_head, failures, free_port, wait_port  # noqa: E402
from s2s_prosody_test import make_certificates  # noqa: E402

PARLEYD, PARLEYCTL = sys.argv[1], sys.argv[2]


class DnsStub(threading.Thread):
    """A tiny DNS server on a loopback UDP port: A records and SRV records
    from a table, NXDOMAIN for anything else (RFC 1035 §4)."""

    def __init__(self, a_records, srv_records):
        super().__init__(daemon=True)
        self.a, self.srv = a_records, srv_records
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    @staticmethod
    def name_bytes(name):
        return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"

    def run(self):
        while True:
            query, peer = self.sock.recvfrom(512)
            at, labels = 12, []
            while query[at]:
                labels.append(query[at + 1:at + 1 + query[at]].decode())
                at += query[at] + 1
            name = ".".join(labels).lower()
            qtype = struct.unpack("!H", query[at + 1:at + 3])[0]
            question = query[12:at + 5]
            answers = []
            if qtype == 1 and name in self.a:
                answers.append((1, socket.inet_aton(self.a[name])))
            if qtype == 33 and name in self.srv:
                prio, weight, port, target = self.srv[name]
                answers.append((33, struct.pack("!HHH", prio, weight, port) + self.name_bytes(target)))
            known = name in self.a or name in self.srv
            flags = 0x8400 | (query[2] & 1) << 8 | 0x80 | (0 if known else 3)
            out = query[:2] + struct.pack("!HHHHH", flags, 1, len(answers), 0, 0) + question
            for rtype, rdata in answers:
                out += struct.pack("!HHHIH", 0xC00C, rtype, 1, 60, len(rdata)) + rdata
            self.sock.sendto(out, peer)


def ejabberd_setup(tmp, ca, c2s_port, s2s_port, dns_port):
    d = os.path.join(tmp, "ejabberd")
    os.makedirs(os.path.join(d, "logs"))
    with open(f"{d}/e.localhost.pem", "w") as f:
        f.write(open(f"{tmp}/e.localhost.crt").read() + open(f"{tmp}/e.localhost.key").read())
    with open(f"{d}/ejabberd.yml", "w") as f:
        f.write(f"""hosts: ["e.localhost"]
loglevel: info
certfiles: ["{d}/e.localhost.pem"]
ca_file: "{ca}"
listen:
  - port: {c2s_port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: true
  - port: {s2s_port}
    ip: "127.0.0.1"
    module: ejabberd_s2s_in
s2s_use_starttls: required
auth_method: internal
auth_password_format: scram
modules:
  mod_roster: {{}}
  mod_disco: {{}}
  mod_ping: {{}}
""")
    with open(f"{d}/ejabberdctl.cfg", "w") as f:
        f.write('ERL_OPTIONS="-kernel inet_dist_use_interface {127,0,0,1}"\n')
    with open(f"{d}/inetrc", "w") as f:
        # ejabberd resolves with Erlang's own DNS client: only our stub
        # (resolv_conf "" first, or /etc/resolv.conf's servers are asked too).
        f.write(f'{{resolv_conf, ""}}.\n{{nameserver, {{127,0,0,1}}, {dns_port}}}.\n{{lookup, [file, dns]}}.\n')
    as_user = []
    if os.geteuid() == 0:
        as_user = ["setpriv", "--reuid=ejabberd", "--regid=ejabberd", "--init-groups", "--"]
        os.chmod(d, 0o755)
        subprocess.run(["chown", "-R", "ejabberd:ejabberd", d], check=True)
    node = f"parleys2s{c2s_port}@localhost"
    ctl = as_user + ["env", f"HOME={d}", "ejabberdctl", "--config-dir", d, "--config", f"{d}/ejabberd.yml",
                     "--ctl-config", f"{d}/ejabberdctl.cfg", "--spool", f"{d}/spool", "--logs", f"{d}/logs",
                     "--node", node]
    return d, ctl


def epmd_pids():
    found = subprocess.run(["pgrep", "-x", "epmd"], capture_output=True, text=True).stdout.split()
    return {int(pid) for pid in found}


def main():
    logging.basicConfig(level=logging.ERROR)
    epmd_before = epmd_pids()
    if not shutil.which("ejabberdctl"):
        print("ejabberd is not installed; skipping")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="parley-s2s-ejabberd-")
    os.chmod(tmp, 0o755)
    ca = make_certificates(tmp, ["a.test", "e.localhost"])
    for entry in os.listdir(tmp):
        os.chmod(os.path.join(tmp, entry), 0o644)
    parley_c2s, parley_s2s = free_port(), free_port()
    ej_c2s, ej_s2s = free_port(), free_port()
    config = os.path.join(tmp, "parley.toml")
    with open(config, "w") as f:
        f.write(parleyd_config_head(parley_c2s) + f"""[modules.s2s]
port = {parley_s2s}
bind_addresses = ["127.0.0.1"]
routes = ["e.localhost=127.0.0.1:{ej_s2s}"]
ca_file = "{ca}"
default_policy = "certificate"
[hosts."a.test"]
certificate = "{tmp}/a.test.crt"
key = "{tmp}/a.test.key"
modules_enabled = ["disco", "ping", "roster", "s2s"]
""")
    # ejabberd finds parleyd by DNS: an SRV record (RFC 6120 §3.2.1) from the
    # stub, whose target it resolves with the system's resolver (hence a name
    # /etc/hosts knows; "a.test" there gave "DNS lookup failed: enoname").
    dns = DnsStub({"a.test": "127.0.0.1"},
                  {"_xmpp-server._tcp.a.test": (5, 0, parley_s2s, "localhost")})
    dns.start()
    ejd, ctl = ejabberd_setup(tmp, ca, ej_c2s, ej_s2s, dns.port)
    log = open(os.path.join(tmp, "parleyd.log"), "w")
    server = ejabberd = None
    try:
        for user in ("alice", "bob"):
            r = subprocess.run([PARLEYCTL, "--config", config, "user", "add", f"{user}@a.test"],
                               input=f"{user}-pw\n", text=True, capture_output=True, timeout=120)
            check(r.returncode == 0, f"parleyctl user add {user} {r.stderr.strip()}")
        ejabberd = subprocess.Popen(ctl + ["foreground"], stdout=open(f"{ejd}/stdout.log", "w"),
                                    stderr=subprocess.STDOUT)
        server = subprocess.Popen([PARLEYD, "--config", config], stdout=log, stderr=log)
        check(wait_port(parley_c2s), "parleyd listens")
        if not wait_port(ej_c2s, 90):
            check(False, "ejabberd listens")
            return
        r = subprocess.run(ctl + ["register", "eve", "e.localhost", "eve-pw"], capture_output=True, text=True,
                           timeout=60)
        check(r.returncode == 0, f"ejabberdctl register eve {r.stdout.strip()} {r.stderr.strip()}")
        talk = federation_conversation("ejabberd", "a.test", parley_c2s, "eve@e.localhost", "eve-pw", ej_c2s)
        asyncio.run(asyncio.wait_for(talk, 240))
        parley_log = open(os.path.join(tmp, "parleyd.log")).read()
        check("incoming link e.localhost -> a.test authenticated by certificate" in parley_log,
              "ejabberd's link to Parley is authenticated by certificate (SASL EXTERNAL)")
        check("link a.test -> e.localhost ready" in parley_log, "Parley's link to ejabberd is up")
    finally:
        if ejabberd and ejabberd.poll() is None:
            subprocess.run(ctl + ["stop"], capture_output=True, timeout=60)
            try:
                ejabberd.wait(timeout=30)
            except subprocess.TimeoutExpired:
                ejabberd.kill()
        if server and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        # The Erlang port mapper the node started outlives it.
        for pid in epmd_pids() - epmd_before:
            os.kill(pid, signal.SIGTERM)
        log.close()
        if failures:
            for path in (os.path.join(tmp, "parleyd.log"), f"{ejd}/logs/ejabberd.log", f"{ejd}/stdout.log"):
                if os.path.exists(path):
                    print(f"---- {path} ----")
                    print(open(path).read()[-6000:])
        if os.environ.get("KEEP"):
            print("kept", tmp)  # KEEP=1: leave logs and configs for a look
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} interop check(s) failed")
        sys.exit(1)
    print("all s2s ejabberd interop checks passed")


if __name__ == "__main__":
    main()
