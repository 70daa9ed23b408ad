"""A loopback TCP proxy for cutting or black-holing one client's connection to etcd.

One thread, ``selectors``, 127.0.0.1 only, and a lifetime after which it stops by itself.

Modes:
    ``"open"``: forward bytes both ways.
    ``"cut"``: close every connection and close new ones at once (a network cut).
    ``"blackhole"``: keep every socket open but move no bytes (a silent partition); new
    connections are accepted and then ignored.

``freeze_existing()`` black-holes only the connections open now and keeps forwarding new ones:
a flow that died silently (a dropped NAT or conntrack entry, a load balancer that failed over)
while the network itself works. Only a read timeout can tell such a connection is dead.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time

__all__ = ["TcpProxy"]


class TcpProxy:
    """Forward ``127.0.0.1:<port>`` to ``127.0.0.1:<target_port>``."""

    def __init__(self, target_port: int, *, lifetime_s: float = 120.0) -> None:
        self.target_port = target_port
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self.mode = "open"
        self._deadline = time.monotonic() + lifetime_s
        self._peers: dict[socket.socket, socket.socket] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.accepted = 0
        self._frozen: set[socket.socket] = set()  # open, never read or written again
        self._thread = threading.Thread(target=self._run, name=f"test-proxy-{self.port}", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_mode(self, mode: str) -> None:
        assert mode in ("open", "cut", "blackhole"), mode
        with self._lock:
            self.mode = mode
            if mode == "cut":
                self._close_all()

    def freeze_existing(self) -> int:
        """Stop moving bytes on every connection open now (without closing them); how many."""
        with self._lock:
            self._frozen |= set(self._peers)
            return len(self._frozen) // 2

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        assert not self._thread.is_alive()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _close_all(self) -> None:
        for sock in list(self._peers):
            try:
                sock.close()
            except OSError:
                pass
        self._peers.clear()
        self._frozen.clear()

    def _drop(self, sock: socket.socket) -> None:
        peer = self._peers.pop(sock, None)
        if peer is not None:
            self._peers.pop(peer, None)
        for s in (sock, peer):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        self.accepted += 1
        if self.mode == "cut":
            client.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
        except OSError:
            client.close()
            return
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.settimeout(5)
        self._peers[client] = upstream
        self._peers[upstream] = client

    def _run(self) -> None:
        try:
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                sel = selectors.DefaultSelector()
                try:
                    # Register under the lock: set_mode("cut") closes sockets from another thread,
                    # and registering a closed socket (fd -1) raises and would kill this thread.
                    # A socket closed later, during select(), just drops out of the epoll set.
                    with self._lock:
                        sel.register(self._listener, selectors.EVENT_READ)
                        if self.mode == "open":
                            for s in self._peers:
                                if s not in self._frozen:
                                    sel.register(s, selectors.EVENT_READ)
                    ready = sel.select(timeout=0.05)
                finally:
                    sel.close()
                with self._lock:
                    for key, _ in ready:
                        sock = key.fileobj
                        assert isinstance(sock, socket.socket)
                        if sock is self._listener:
                            self._accept()
                            continue
                        if self.mode != "open" or sock not in self._peers or sock in self._frozen:
                            continue
                        try:
                            data = sock.recv(65536)
                        except OSError:
                            data = b""
                        if not data:
                            self._drop(sock)
                            continue
                        try:
                            self._peers[sock].sendall(data)
                        except OSError:
                            self._drop(sock)
        finally:
            with self._lock:
                self._close_all()
            self._listener.close()
