"""The conversation both federation interop tests hold across one s2s link:
two users on parleyd (alice, bob) and one on the peer server, with slixmpp
clients. Messages both ways with the senders' full JIDs, a subscription
started on each side reaching 'both' in both rosters, presence seen online,
and unavailable presence when the peer's user leaves (RFC 6121 §4.5.2)."""
import asyncio

from interop_common import check
from interop_test import Client


async def wait_for(predicate, seconds=20):
    for _ in range(int(seconds * 10)):
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return False


async def expect_message(client, body, sender, seconds=30):
    try:
        msg = await asyncio.wait_for(client.received.get(), seconds)
    except asyncio.TimeoutError:
        return False
    return msg["body"] == body and str(msg["from"]) == sender


async def federation_conversation(peer_name, parley_domain, parley_port, peer_user, peer_password, peer_port):
    """peer_user: the peer server's account as a bare JID, e.g. pat@p.localhost."""
    alice = Client(f"alice@{parley_domain}/sli", "alice-pw")
    bob = Client(f"bob@{parley_domain}/sli", "bob-pw")
    peer = Client(f"{peer_user}/sli", peer_password)
    for c in (alice, bob, peer):
        c.auto_authorize = True
        c.auto_subscribe = True
    alice.connect(("127.0.0.1", parley_port))
    bob.connect(("127.0.0.1", parley_port))
    peer.connect(("127.0.0.1", peer_port))
    for c in (alice, bob, peer):
        await asyncio.wait_for(c.ready.wait(), 30)
    check(alice.authenticated and bob.authenticated and peer.authenticated, "clients sign in on both servers")

    alice.send_message(mto=peer_user, mbody=f"hello {peer_name}", mtype="chat")
    check(await expect_message(peer, f"hello {peer_name}", f"alice@{parley_domain}/sli"),
          f"Parley -> {peer_name}: message delivered with the sender's full JID")
    peer.send_message(mto=f"alice@{parley_domain}/sli", mbody="hello Parley", mtype="chat")
    check(await expect_message(alice, "hello Parley", f"{peer_user}/sli"),
          f"{peer_name} -> Parley: message delivered with the sender's full JID")

    # A subscription started on the Parley side...
    await alice.get_roster()
    await peer.get_roster()
    alice.send_presence_subscription(pto=peer_user)
    check(await wait_for(lambda: alice.client_roster[peer_user]["subscription"] == "both"),
          "Parley-initiated subscription reaches 'both' in the Parley user's roster")
    check(await wait_for(lambda: peer.client_roster[f"alice@{parley_domain}"]["subscription"] == "both"),
          f"... and in the {peer_name} user's roster")
    check(await wait_for(lambda: "sli" in alice.client_roster[peer_user].resources),
          f"the Parley user sees the {peer_name} user online")
    check(await wait_for(lambda: "sli" in peer.client_roster[f"alice@{parley_domain}"].resources),
          f"the {peer_name} user sees the Parley user online")

    # ... and one started on the peer's side.
    await bob.get_roster()
    peer.send_presence_subscription(pto=f"bob@{parley_domain}")
    check(await wait_for(lambda: peer.client_roster[f"bob@{parley_domain}"]["subscription"] == "both"),
          f"{peer_name}-initiated subscription reaches 'both' in the {peer_name} user's roster")
    check(await wait_for(lambda: bob.client_roster[peer_user]["subscription"] == "both"),
          "... and in the Parley user's roster")

    # Going offline on one side is seen on the other (RFC 6121 §4.5.2).
    peer.disconnect()
    check(await wait_for(lambda: "sli" not in alice.client_roster[peer_user].resources),
          f"the {peer_name} user's unavailable presence reaches the Parley user")
    alice.disconnect()
    bob.disconnect()
    await asyncio.sleep(0.5)
