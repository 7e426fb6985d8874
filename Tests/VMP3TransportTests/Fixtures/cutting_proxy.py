#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that cuts one download off half-way, as a dropped connection would.

Usage: cutting_proxy.py UPSTREAM_PORT CUT_AFTER_BYTES
Prints "listening on PORT" once it accepts connections. Every connection is relayed to
127.0.0.1:UPSTREAM_PORT; the first one to send a `GET …/download` request is closed (both ways)
once CUT_AFTER_BYTES bytes of its answer have been relayed. Later downloads go through whole.
Stops by itself after ten minutes.
"""
import socket
import sys
import threading

upstream_port, cut_after = int(sys.argv[1]), int(sys.argv[2])
state = {"cut": False}
lock = threading.Lock()


def relay(client):
    server = socket.create_connection(("127.0.0.1", upstream_port))
    armed = {"on": False, "sent": 0}

    def upward():
        try:
            while data := client.recv(65536):
                if b"GET /v1/jobs/" in data and b"/download" in data.split(b"\r\n", 1)[0]:
                    with lock:
                        if not state["cut"]:
                            state["cut"] = True
                            armed["on"] = True
                server.sendall(data)
        except OSError:
            pass
        finally:
            try:
                server.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    threading.Thread(target=upward, daemon=True).start()
    try:
        while data := server.recv(16384):
            if armed["on"]:
                room = cut_after - armed["sent"]
                if room <= len(data):
                    client.sendall(data[:room])
                    break
                armed["sent"] += len(data)
            client.sendall(data)
    except OSError:
        pass
    for sock in (client, server):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(64)
listener.settimeout(600)
print(f"listening on {listener.getsockname()[1]}", flush=True)
try:
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=relay, args=(connection,), daemon=True).start()
except socket.timeout:
    pass
