"""What ProvenanceClient and AsyncProvenanceClient set up alike: channel credentials, channel arguments and call metadata."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc

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
