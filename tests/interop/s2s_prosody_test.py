#!/usr/bin/python3
"""Interop: federation between parleyd and Prosody (Debian's prosody 0.12).

Makes a test CA and certificates with the openssl tool, starts parleyd
(a.localhost, embedded PostgreSQL) and Prosody (p.localhost, its own config
and data directories) with static routes to each other's s2s ports, and
Prosody's dialback module left out, so every link is authenticated by
certificate (SASL EXTERNAL, XEP-0178). Then, with slixmpp clients:
  - messages both ways between alice@a.localhost and pat@p.localhost;
  - a subscription started on each side reaches 'both' on both servers,
    and each side sees the other's resource online;
  - unavailable presence crosses when a user signs off;
  - Prosody's user discovers Parley's component proxy.a.localhost and is
    refused its relay: the component's answers travel on a link of its own,
    authenticated for proxy.a.localhost by certificate.
Usage: s2s_prosody_test.py PARLEYD PARLEYCTL
"""
import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from federation_conversation import federation_conversation  # noqa: E402
from interop_common import check, parleyd_config_head, failures, free_port, wait_port  # noqa: E402
from interop_test import Client  # noqa: E402
from slixmpp.exceptions import IqError, IqTimeout  # noqa: E402

PARLEYD, PARLEYCTL = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_certificates(tmp, names, also_names=None):
    """also_names: extra DNS names per certificate, e.g. a host's components."""
    ca_key, ca_crt = os.path.join(tmp, "ca.key"), os.path.join(tmp, "ca.crt")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", ca_key, "-out", ca_crt, "-days", "30", "-subj", "/CN=Parley interop CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name in names:
        key, csr, crt = (os.path.join(tmp, f"{name}.{ext}") for ext in ("key", "csr", "crt"))
        ext = os.path.join(tmp, f"{name}.ext")
        with open(ext, "w") as f:
            # RFC 6125 §6.4: the domain as a DNS-ID; both key usages for s2s.
            sans = ",".join(f"DNS:{n}" for n in [name, *(also_names or {}).get(name, [])])
            f.write(f"subjectAltName={sans}\nextendedKeyUsage=serverAuth,clientAuth\n")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
        openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
                "-out", crt, "-days", "30", "-extfile", ext)
    return ca_crt


def prosody_config(tmp, ca, c2s_port, s2s_port, parley_s2s_port):
    data = os.path.join(tmp, "prosody-data")
    os.makedirs(data, exist_ok=True)
    path = os.path.join(tmp, "prosody.cfg.lua")
    with open(path, "w") as f:
        f.write(f"""
run_as_root = true
daemonize = false
pidfile = "{tmp}/prosody.pid"
data_path = "{data}"
plugin_paths = {{ "{HERE}/prosody" }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s_port} }}
s2s_ports = {{ {s2s_port} }}
c2s_direct_tls_ports = {{ }}
s2s_direct_tls_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
log = {{ debug = "{tmp}/prosody.log" }}
authentication = "internal_hashed"
storage = "internal"
-- No dialback: links must authenticate by certificate.
modules_enabled = {{ "roster", "saslauth", "tls", "disco", "ping", "presence", "s2s_auth_certs",
                    "parley_test_routes" }}
c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = true
ssl = {{ cafile = "{ca}" }}
parley_test_routes = {{ ["a.localhost"] = {{ "127.0.0.1", {parley_s2s_port} }},
                       ["proxy.a.localhost"] = {{ "127.0.0.1", {parley_s2s_port} }} }}
VirtualHost "p.localhost"
  ssl = {{ certificate = "{tmp}/p.localhost.crt", key = "{tmp}/p.localhost.key", cafile = "{ca}" }}
""")
    return path


async def component_from_prosody(prosody_c2s):
    pat = Client("pat@p.localhost/component", "pat-pw")
    pat.connect(("127.0.0.1", prosody_c2s))
    await asyncio.wait_for(pat.ready.wait(), 30)
    try:
        info = await pat["xep_0030"].get_info(jid="proxy.a.localhost", timeout=30)
        identities = info["disco_info"]["identities"]
        check(any(category == "proxy" for category, *_ in identities),
              f"Prosody's user gets disco#info from Parley's proxy.a.localhost ({identities})")
    except (IqError, IqTimeout) as e:
        check(False, f"disco#info to proxy.a.localhost from Prosody's user: {e!r}")
    iq = pat.make_iq_get(queryxmlns="http://jabber.org/protocol/bytestreams", ito="proxy.a.localhost")
    try:
        await iq.send(timeout=30)
        check(False, "the relay of a.localhost refuses a user of p.localhost")
    except IqError as e:
        check(e.condition == "forbidden", f"the relay of a.localhost refuses a user of p.localhost ({e.condition})")
    except IqTimeout:
        check(False, "the relay of a.localhost answers a user of p.localhost")
    pat.disconnect()


def main():
    logging.basicConfig(level=logging.ERROR)
    if not shutil.which("prosody"):
        print("prosody is not installed; skipping")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="parley-s2s-interop-")
    os.chmod(tmp, 0o755)  # PostgreSQL runs as 'postgres' when we are root
    ca = make_certificates(tmp, ["a.localhost", "p.localhost"], {"a.localhost": ["proxy.a.localhost"]})
    parley_c2s, parley_s2s = free_port(), free_port()
    prosody_c2s, prosody_s2s = free_port(), free_port()
    config = os.path.join(tmp, "parley.toml")
    with open(config, "w") as f:
        f.write(parleyd_config_head(parley_c2s) + f"""[modules.s2s]
port = {parley_s2s}
bind_addresses = ["127.0.0.1"]
routes = ["p.localhost=127.0.0.1:{prosody_s2s}"]
ca_file = "{ca}"
[hosts."a.localhost"]
certificate = "{tmp}/a.localhost.crt"
key = "{tmp}/a.localhost.key"
modules_enabled = ["disco", "ping", "roster", "s2s", "proxy65"]
[modules.proxy65]
port = {free_port()}
bind_address = "127.0.0.1"
""")
    pconfig = prosody_config(tmp, ca, prosody_c2s, prosody_s2s, parley_s2s)
    log = open(os.path.join(tmp, "parleyd.log"), "w")
    plog = open(os.path.join(tmp, "prosody.out"), "w")
    server = prosody = None
    try:
        ctl = lambda *args, stdin="": subprocess.run([PARLEYCTL, "--config", config, *args], input=stdin,
                                                     text=True, capture_output=True, timeout=120)
        for user in ("alice", "bob"):
            r = ctl("user", "add", f"{user}@a.localhost", stdin=f"{user}-pw\n")
            check(r.returncode == 0, f"parleyctl user add {user} {r.stderr.strip()}")
        r = subprocess.run(["prosodyctl", "--config", pconfig, "register", "pat", "p.localhost", "pat-pw"],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, f"prosodyctl register pat {r.stderr.strip()}")
        server = subprocess.Popen([PARLEYD, "--config", config], stdout=log, stderr=log)
        prosody = subprocess.Popen(["prosody", "--config", pconfig, "-F"], stdout=plog, stderr=plog)
        check(wait_port(parley_c2s), "parleyd listens")
        check(wait_port(prosody_c2s), "prosody listens")
        talk = federation_conversation("Prosody", "a.localhost", parley_c2s, "pat@p.localhost", "pat-pw", prosody_c2s)
        asyncio.run(asyncio.wait_for(talk, 240))
        asyncio.run(asyncio.wait_for(component_from_prosody(prosody_c2s), 120))
        parley_log = open(os.path.join(tmp, "parleyd.log")).read()
        check("incoming link p.localhost -> a.localhost authenticated by certificate" in parley_log,
              "Prosody's link to Parley is authenticated by certificate (SASL EXTERNAL)")
        check("link a.localhost -> p.localhost ready" in parley_log,
              "Parley's link to Prosody is up (SASL EXTERNAL, the only way it authenticates)")
        check("link proxy.a.localhost -> p.localhost ready" in parley_log,
              "the component's own link to Prosody is up (SASL EXTERNAL for proxy.a.localhost)")
    finally:
        for p in (prosody, server):
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        log.close()
        plog.close()
        if failures:
            for name in ("parleyd.log", "prosody.log", "prosody.out"):
                path = os.path.join(tmp, name)
                if os.path.exists(path):
                    print(f"---- {name} ----")
                    print(open(path).read()[-8000:])
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} interop check(s) failed")
        sys.exit(1)
    print("all s2s interop checks passed")


if __name__ == "__main__":
    main()
