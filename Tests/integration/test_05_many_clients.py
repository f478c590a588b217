"""5. 200 clients connected at the same time."""

import mqttraw
from clients import Paho
from harness import scaled

N = 200


def test_200_subscribers_each_get_their_own_message(broker):
    b = broker()
    subs = []
    try:
        for i in range(N):
            subs.append(Paho(b.port, client_id=f"many-{i}"))
        for sub in subs:
            sub.wait_connected()
        for i, sub in enumerate(subs):
            sub.subscribe(f"c/{i}")
        pub = Paho(b.port).wait_connected()
        subs.append(pub)
        for i in range(N):
            pub.publish(f"c/{i}", f"for client {i}")
        for i in range(N):
            subs[i].wait_messages(1)
        for i in range(N):
            assert subs[i].messages == [(f"c/{i}", f"for client {i}".encode())]
        for sub in subs:
            sub.disconnect()
        assert b.alive()
    finally:
        for sub in subs:
            sub.close()


def test_200_publishers_one_wildcard_subscriber(broker):
    b = broker()
    sub = Paho(b.port).wait_connected()
    pubs = []
    try:
        sub.subscribe("p/#")
        # All 200 raw connections are open (CONNACKed) before anyone publishes.
        for i in range(N):
            pubs.append(mqttraw.connected_client(b.port, client_id=f"pub-{i}",
                                                 timeout=scaled(10)))
        for i, pub in enumerate(pubs):
            assert pub.send(mqttraw.publish(f"p/{i}", f"from {i}"))
        received = sub.settle(N)
        assert sorted(received) == sorted((f"p/{i}", f"from {i}".encode()) for i in range(N))
        # Messages of different publishers may interleave, but there are no duplicates.
        assert len(set(received)) == N
        for pub in pubs:
            assert pub.send(mqttraw.DISCONNECT)
        for pub in pubs:
            pub.wait_closed(scaled(5))   # the Server SHOULD close after DISCONNECT (3.14.4)
        sub.disconnect()
    finally:
        sub.close()
        for pub in pubs:
            pub.close()
