"""etcd as a config source and change feed (private; the public names live in ``livesettings.sources``).

``client``: range, put, txn and leases through etcd3gw, with endpoints, TLS and user/password.
``watch``: our own watch loop over the gateway's streaming ``/v3/watch``.
``feed``: ``EtcdFeed``, the [ChangeFeed][livesettings.typing.ChangeFeed] with ACK/NACK records.
``source``: ``EtcdSource``, the pydantic-settings source implementing the key layout.
``publish``: what ``livesettings publish`` and ``livesettings fleet`` do against the store.

Importing this package imports etcd3gw: ``livesettings.sources`` imports it lazily.
"""
