"""What ProvenanceClient and AsyncProvenanceClient set up alike: channel credentials, channel arguments, call metadata and the stub."""

import weakref
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from provenance.v1 import provenance_service_pb2_grpc

# The service's default PROVENANCE_MAX_MESSAGE_BYTES; grpc's own 4 MiB limit
# would refuse large lineage answers.
_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Connection:
    """The channel credentials (None: plaintext), channel arguments and call metadata of a client."""

    credentials: grpc.ChannelCredentials | None
    options: list[tuple[str, Any]]
    metadata: tuple[tuple[str, str], ...]


def connection(
    *,
    token: str | None,
    api_key: str | None,
    root_certificates: bytes | None,
    private_key: bytes | None,
    certificate_chain: bytes | None,
    tls: bool | None,
    options: Sequence[tuple[str, Any]],
) -> Connection:
    certificates_given = any(value is not None for value in (root_certificates, private_key, certificate_chain))
    if tls is False and certificates_given:
        raise ValueError("certificates need TLS: leave tls unset or set it to True")
    credentials = None
    if tls or certificates_given:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=root_certificates, private_key=private_key, certificate_chain=certificate_chain
        )
    metadata = []
    if token is not None:
        metadata.append(("authorization", f"Bearer {token}"))
    if api_key is not None:
        metadata.append(("x-api-key", api_key))
    channel_options = [
        ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
        *options,
    ]
    return Connection(credentials, channel_options, tuple(metadata))


class Connected(ABC):
    """The constructor ProvenanceClient and AsyncProvenanceClient share; each opens its own kind of channel (_open_channel)."""

    def __init__(
        self,
        address: str,
        *,
        token: str | None = None,
        api_key: str | None = None,
        root_certificates: bytes | None = None,
        private_key: bytes | None = None,
        certificate_chain: bytes | None = None,
        tls: bool | None = None,
        timeout: float | None = None,
        options: Sequence[tuple[str, Any]] = (),
    ):
        settings = connection(
            token=token,
            api_key=api_key,
            root_certificates=root_certificates,
            private_key=private_key,
            certificate_chain=certificate_chain,
            tls=tls,
            options=options,
        )
        self._channel = self._open_channel(address, settings)
        self.stub = provenance_service_pb2_grpc.ProvenanceServiceStub(self._channel)
        # Public, with timeout, for direct stub calls: client.stub.X(request, metadata=client.metadata).
        self.metadata = settings.metadata
        self.timeout = timeout
        # The client's open event streams, which close() ends.
        self._event_streams: weakref.WeakSet = weakref.WeakSet()

    @abstractmethod
    def _open_channel(self, address: str, settings: Connection) -> Any:
        """A blocking or a grpc.aio channel to address, with settings' credentials and arguments."""
