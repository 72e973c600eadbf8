#!/usr/bin/python3
"""Interop: independent XMPP clients from Debian against a real parleyd.

Runs parleyd on the embedded default (its own PostgreSQL, created by initdb
on first start), creates users with parleyctl, then:
  - two slixmpp clients (STARTTLS, and direct TLS) enable stream
    management (XEP-0198, acknowledging throughout), exchange a message, ping
    the server and read its disco#info; a third one with slixmpp's carbons
    plugin gets copies of what the first sends and receives (XEP-0280);
    with slixmpp's CSI plugin the first says it is inactive, and bob's
    presence waits for his next message (XEP-0352); slixmpp's MAM plugin
    reads the conversation back from alice's archive (XEP-0313);
  - file transfer with slixmpp's plugins: an HTTP File Upload (XEP-0363,
    PUT by aiohttp over HTTPS, downloaded back byte-identical) and a SOCKS5
    bytestream through proxy.localhost (XEP-0065);
  - go-sendxmpp sends a message (STARTTLS and direct TLS) that a slixmpp
    client receives;
  - with slixmpp's own plugins: a roster subscription both ways, a vCard
    (XEP-0054) published and read, a block list (XEP-0191), offline storage
    with delay stamps (XEP-0160, XEP-0203) and last activity (XEP-0012);
  - SIGTERM: parleyd exits 0 and stops its PostgreSQL.
Usage: interop_test.py PARLEYD PARLEYCTL
"""
import asyncio
import logging
import os
import signal
import ssl
import subprocess
import sys
import tempfile

import slixmpp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_common import check, parleyd_config_head, finish_parleyd_run, free_port, wait_port  # noqa: E402

PARLEYD, PARLEYCTL = sys.argv[1], sys.argv[2]


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.received = asyncio.Queue()
        self.ready = asyncio.Event()
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0199")
        for plugin in ("xep_0012", "xep_0054", "xep_0065", "xep_0191", "xep_0198", "xep_0203", "xep_0280", "xep_0313",
                       "xep_0352", "xep_0363"):
            self.register_plugin(plugin)
        self.presences = asyncio.Queue()
        self.add_event_handler("presence", lambda p: self.presences.put_nowait(p))
        self["xep_0065"].auto_accept = True
        self.socks5_data = asyncio.Queue()
        self.add_event_handler("socks5_data", lambda data: self.socks5_data.put_nowait(data))
        self.sm_enabled = asyncio.Event()
        self.add_event_handler("sm_enabled", lambda _: self.sm_enabled.set())
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", lambda m: self.received.put_nowait(m))
        self.add_event_handler("failed_all_auth", lambda _: self.ready.set())
        self.add_event_handler("disconnected", lambda _: self.ready.set())
        # The test certificate is self-signed.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE

    async def on_start(self, _):
        self.send_presence()
        self.ready.set()


async def upload_part(alice, state_dir):
    """XEP-0363 with slixmpp's plugin end to end: it finds upload.localhost in
    disco, reads max-file-size, asks for a slot and PUTs with aiohttp over
    HTTPS; the file comes back byte-identical with an aiohttp GET."""
    # aiohttp verifies the server: trust the test's self-signed certificate.
    os.environ["SSL_CERT_FILE"] = os.path.join(state_dir, "certs", "localhost.crt")
    path = os.path.join(state_dir, "photo.jpg")
    content = os.urandom(3 << 20)
    with open(path, "wb") as f:
        f.write(content)
    # slixmpp 1.8's own service discovery (get_info_from_domain) fails on
    # Python 3.11 (asyncio.wait with coroutines), so the service is found
    # with a plain disco#info and handed to the plugin the way it would set it.
    info = await alice["xep_0030"].get_info(jid="upload.localhost", timeout=10)
    identities = {(i[0], i[1]) for i in info["disco_info"]["identities"]}
    check(("store", "file") in identities and "urn:xmpp:http:upload:0" in info["disco_info"]["features"],
          "slixmpp finds the upload service upload.localhost (store/file, XEP-0363 feature)")
    for form in info["disco_info"].iterables:
        values = form["values"]
        if values.get("FORM_TYPE") == ["urn:xmpp:http:upload:0"]:
            alice["xep_0363"].max_file_size = int(values["max-file-size"])
    alice["xep_0363"].upload_service = info["from"]
    url = None
    try:
        url = await alice["xep_0363"].upload_file(path, timeout=20)
    except Exception as e:  # reported by the check below
        print("upload failed:", repr(e))
    check(url is not None and url.startswith("https://localhost:"), "slixmpp uploads a file with XEP-0363")
    check(alice["xep_0363"].max_file_size == 100 << 20, "slixmpp reads max-file-size from the upload service")
    if url:
        import aiohttp
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as response:
                body = await response.read()
                check(response.status == 200 and body == content and response.headers["Content-Type"] == "image/jpeg"
                      and response.headers["X-Content-Type-Options"] == "nosniff",
                      "aiohttp downloads it byte-identical with its type and nosniff")


async def slixmpp_part(port, direct_port, state_dir):
    alice = Client("alice@localhost/sli", "alice-pw")
    bob = Client("bob@localhost/sli", "bob-pw")
    alice.connect(("127.0.0.1", port))
    bob.connect(("127.0.0.1", direct_port), use_ssl=True, force_starttls=False, disable_starttls=True)
    await asyncio.wait_for(alice.ready.wait(), 20)
    await asyncio.wait_for(bob.ready.wait(), 20)
    check(alice.authenticated, "slixmpp signs in over STARTTLS")
    check(bob.authenticated, "slixmpp signs in over direct TLS")
    try:
        await asyncio.wait_for(asyncio.gather(alice.sm_enabled.wait(), bob.sm_enabled.wait()), 10)
        enabled = True
    except asyncio.TimeoutError:
        enabled = False
    check(enabled, "slixmpp's XEP-0198 plugin enables stream management")

    alice.send_message(mto="bob@localhost", mbody="hello from slixmpp", mtype="chat")
    msg = await asyncio.wait_for(bob.received.get(), 10)
    check(msg["body"] == "hello from slixmpp" and str(msg["from"]) == "alice@localhost/sli",
          "slixmpp message delivered with the sender's full JID")

    # Message Carbons (XEP-0280) with slixmpp's plugin: alice's second
    # resource sees both sides of her conversation with bob.
    alice2 = Client("alice@localhost/two", "alice-pw")
    carbons = asyncio.Queue()
    alice2.add_event_handler("carbon_sent", lambda m: carbons.put_nowait(("sent", m["carbon_sent"])))
    alice2.add_event_handler("carbon_received", lambda m: carbons.put_nowait(("received", m["carbon_received"])))
    alice2.connect(("127.0.0.1", port))
    await asyncio.wait_for(alice2.ready.wait(), 20)
    await alice2["xep_0280"].enable(timeout=10)
    alice.send_message(mto="bob@localhost", mbody="seen on my other device", mtype="chat")
    await asyncio.wait_for(bob.received.get(), 10)
    kind, inner = await asyncio.wait_for(carbons.get(), 10)
    check(kind == "sent" and inner["body"] == "seen on my other device" and str(inner["to"]) == "bob@localhost",
          "slixmpp's carbons plugin gets a <sent/> copy of what alice's other resource sends")
    bob.send_message(mto="alice@localhost/sli", mbody="for one device", mtype="chat")
    await asyncio.wait_for(alice.received.get(), 10)
    kind, inner = await asyncio.wait_for(carbons.get(), 10)
    check(kind == "received" and inner["body"] == "for one device" and str(inner["from"]) == "bob@localhost/sli",
          "slixmpp's carbons plugin gets a <received/> copy of a message to alice's other resource")
    alice2.disconnect()

    # Client State Indication (XEP-0352) with slixmpp's plugin: once alice
    # says she is inactive, bob's presence waits for his next message.
    # (Other presence, such as alice2's unavailable, may be held as well.)
    def shows_from_bob():
        shows = []
        while not alice.presences.empty():
            p = alice.presences.get_nowait()
            if p["from"].bare == "bob@localhost":
                shows.append(p["show"])
        return shows

    check(alice["xep_0352"].enabled, "slixmpp's CSI plugin finds the <csi/> stream feature")
    alice["xep_0352"].send_inactive()
    await alice["xep_0199"].ping(jid="localhost", timeout=10)  # the server has read <inactive/>
    shows_from_bob()
    bob.send_presence(pto="alice@localhost/sli", pshow="away")
    await bob["xep_0199"].ping(jid="localhost", timeout=10)
    await asyncio.sleep(1)
    check(shows_from_bob() == [], "an inactive slixmpp client is not sent presence at once")
    bob.send_message(mto="alice@localhost/sli", mbody="worth waking up for", mtype="chat")
    msg = await asyncio.wait_for(alice.received.get(), 10)
    check(msg["body"] == "worth waking up for" and shows_from_bob() == ["away"],
          "the held presence came with bob's next message, before it")
    alice["xep_0352"].send_active()

    # Message Archive Management (XEP-0313) with slixmpp's plugin: alice's
    # archive holds her conversation with bob, both directions, in order.
    archived = []
    for _ in range(50):
        answer = await alice["xep_0313"].retrieve(with_jid=slixmpp.JID("bob@localhost"), timeout=10)
        archived = [m["mam_result"]["forwarded"]["stanza"]["body"] for m in answer["mam"]["results"]]
        if "worth waking up for" in archived:
            break
        await asyncio.sleep(0.1)
    check(archived[:1] == ["hello from slixmpp"] and archived[-1:] == ["worth waking up for"]
          and "for one device" in archived, f"slixmpp reads alice's archive with bob ({archived})")

    rtt = await alice["xep_0199"].ping(jid="localhost", timeout=10)
    check(rtt is not None, "slixmpp pings the server")
    info = await alice["xep_0030"].get_info(jid="localhost", timeout=10)
    features = info["disco_info"]["features"]
    check("urn:xmpp:ping" in features and "jabber:iq:version" in features,
          "slixmpp reads the server's disco#info features")
    await upload_part(alice, state_dir)

    # XEP-0065 with slixmpp's own plugin on both ends: it discovers
    # proxy.localhost through disco, offers it to bob, both connect, alice
    # activates, and the bytes cross the proxy.
    proxies = await alice["xep_0065"].discover_proxies(timeout=10)
    check("proxy.localhost" in {str(j) for j in proxies}, "slixmpp discovers the SOCKS5 proxy proxy.localhost")
    stream = await asyncio.wait_for(alice["xep_0065"].handshake("bob@localhost/sli", timeout=10), 20)
    payload = os.urandom(200_000)
    got = b""
    if stream is not None:
        await stream.write(payload)
        try:
            while len(got) < len(payload):
                got += await asyncio.wait_for(bob.socks5_data.get(), 10)
        except asyncio.TimeoutError:
            pass
    check(got == payload, "slixmpp sends 200 kB to slixmpp through the SOCKS5 proxy intact")
    if stream is not None:
        stream.transport.close()  # slixmpp 1.8's plugin close() calls a method its protocol lacks

    for flags, label in (([], "STARTTLS"), (["-t"], "direct TLS")):
        target = direct_port if flags else port
        sent = subprocess.run(
            ["go-sendxmpp", "-u", "alice@localhost", "-p", "alice-pw", "-j", f"127.0.0.1:{target}", "-n"]
            + flags + ["bob@localhost"],
            input=f"hello from go-sendxmpp over {label}\n", text=True, capture_output=True, timeout=60)
        check(sent.returncode == 0, f"go-sendxmpp exits 0 over {label} ({sent.stderr.strip()})")
        try:
            msg = await asyncio.wait_for(bob.received.get(), 10)
            body = msg["body"].strip()
        except asyncio.TimeoutError:
            body = None
        check(body == f"hello from go-sendxmpp over {label}", f"go-sendxmpp message over {label} received")

    # Roster and presence subscription (RFC 6121) with slixmpp's own roster
    # handling: bob authorizes and subscribes back automatically.
    bob.auto_authorize = True
    bob.auto_subscribe = True
    await alice.get_roster()
    alice.send_presence_subscription(pto="bob@localhost")
    both = False
    for _ in range(100):
        item = alice.client_roster["bob@localhost"]
        if item["subscription"] == "both":
            both = True
            break
        await asyncio.sleep(0.1)
    check(both, "slixmpp subscription alice<->bob reaches 'both' in alice's roster")
    await asyncio.sleep(0.5)
    check("sli" in alice.client_roster["bob@localhost"].resources,
          "slixmpp sees the contact's resource online after subscribing")

    # vcard-temp: alice publishes, bob (a contact) reads it.
    vcard = alice["xep_0054"].make_vcard()
    vcard["FN"] = "Alice Liddell"
    await alice["xep_0054"].publish_vcard(vcard, timeout=10)
    got = await bob["xep_0054"].get_vcard(jid="alice@localhost", timeout=10)
    check(got["vcard_temp"]["FN"] == "Alice Liddell", "slixmpp publishes a vCard that a contact reads")

    # Blocking command: block, list, unblock.
    await alice["xep_0191"].block(["mallory@example.org"], timeout=10)
    blocked = await alice["xep_0191"].get_blocked(timeout=10)
    check({str(j) for j in blocked["blocklist"]["items"]} == {"mallory@example.org"},
          "slixmpp blocks a JID and reads it back from the block list")
    await alice["xep_0191"].unblock(["mallory@example.org"], timeout=10)
    blocked = await alice["xep_0191"].get_blocked(timeout=10)
    check(len(blocked["blocklist"]["items"]) == 0, "slixmpp unblocks it")

    # Offline storage: bob leaves, alice writes, bob comes back and gets it stamped.
    bob.disconnect()
    await asyncio.sleep(1)
    last = await alice["xep_0012"].get_last_activity("bob@localhost", timeout=10)
    check(int(last["last_activity"]["seconds"]) >= 0 and last["type"] == "result",
          "slixmpp reads the last activity of an offline contact")
    alice.send_message(mto="bob@localhost", mbody="while you were away", mtype="chat")
    await asyncio.sleep(0.5)
    bob_again = Client("bob@localhost/back", "bob-pw")
    bob_again.connect(("127.0.0.1", port))
    await asyncio.wait_for(bob_again.ready.wait(), 20)
    try:
        msg = await asyncio.wait_for(bob_again.received.get(), 10)
        stored = msg["body"] == "while you were away" and bool(msg["delay"]["stamp"])
    except asyncio.TimeoutError:
        stored = False
    check(stored, "slixmpp receives a message stored offline, with a delay stamp")

    wrong = Client("alice@localhost/bad", "wrong-password")
    wrong.connect(("127.0.0.1", port))
    await asyncio.wait_for(wrong.ready.wait(), 20)
    check(not wrong.authenticated, "slixmpp with a wrong password is refused")
    for c in (alice, bob_again, wrong):
        c.disconnect()
    await asyncio.sleep(0.5)


def main():
    logging.basicConfig(level=logging.ERROR)
    tmp = tempfile.mkdtemp(prefix="parley-interop-")
    os.chmod(tmp, 0o755)  # PostgreSQL runs as 'postgres' when we are root
    port, direct_port, https_port, proxy_port = free_port(), free_port(), free_port(), free_port()
    config = os.path.join(tmp, "parley.toml")
    with open(config, "w") as f:
        f.write(parleyd_config_head(port, direct_port, https_port) + f"""[modules.proxy65]
port = {proxy_port}
bind_address = "127.0.0.1"
public_address = "127.0.0.1"
[hosts."localhost"]
modules_enabled = ["blocking", "carbons", "csi", "disco", "last", "mam", "offline", "ping", "private", "proxy65",
                   "register", "roster", "time", "upload", "vcard", "version"]
""")
    log = open(os.path.join(tmp, "parleyd.log"), "w")
    server = None
    try:
        ctl = lambda *args, stdin="": subprocess.run([PARLEYCTL, "--config", config, *args], input=stdin,
                                                     text=True, capture_output=True, timeout=120)
        check(ctl("cert", "localhost").returncode == 0, "parleyctl cert writes a self-signed certificate")
        for user in ("alice", "bob"):
            r = ctl("user", "add", f"{user}@localhost", stdin=f"{user}-pw\n")
            check(r.returncode == 0, f"parleyctl user add {user} (embedded PostgreSQL) {r.stderr.strip()}")
        server = subprocess.Popen([PARLEYD, "--config", config], stdout=log, stderr=log)
        check(wait_port(port), "parleyd listens")
        asyncio.run(asyncio.wait_for(slixmpp_part(port, direct_port, tmp), 180))
        server.send_signal(signal.SIGTERM)
        check(server.wait(timeout=30) == 0, "parleyd exits 0 on SIGTERM")
        status = subprocess.run(["pgrep", "-f", os.path.join(tmp, "postgres")], capture_output=True)
        check(status.returncode != 0, "the embedded PostgreSQL stopped with parleyd")
    finally:
        finish_parleyd_run(server, log, tmp, "interop")


if __name__ == "__main__":
    main()
