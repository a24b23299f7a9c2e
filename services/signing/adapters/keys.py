"""What the PDF signer needs from a key: a pyHanko `Signer` that is used by one request at a
time, off the event loop. `TokenKey` (adapters.token) is the production implementation;
`InMemoryKey` wraps an in-memory pyHanko signer (simulated agencies, tests).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar, runtime_checkable

from asn1crypto import x509 as asn1_x509
from pyhanko.sign.signers import Signer

T = TypeVar("T")


@runtime_checkable
class SigningKey(Protocol):
    label: str

    @property
    def certificate(self) -> asn1_x509.Certificate: ...

    @property
    def key_id(self) -> str: ...

    async def run(self, job: Callable[[Signer], T]) -> T:
        """Run `job(signer)` in this key's worker thread; jobs for one key never overlap."""
        ...


def key_id_of(cert: asn1_x509.Certificate) -> str:
    """Key fingerprint used by the signing rules: hex SHA-256 of the SubjectPublicKeyInfo."""
    return hashlib.sha256(cert.public_key.dump()).hexdigest()


class InMemoryKey:
    """A pyHanko signer with an in-memory key (e.g. `SimpleSigner`), served one job at a time.
    Parse the key once and keep this object: re-parsing per signature is slow (stack.md)."""

    def __init__(self, signer: Signer, label: str = "in-memory") -> None:
        self.label = label
        self._signer = signer
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"key-{label}")

    @property
    def certificate(self) -> asn1_x509.Certificate:
        return self._signer.signing_cert

    @property
    def key_id(self) -> str:
        return key_id_of(self.certificate)

    async def run(self, job: Callable[[Signer], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, job, self._signer)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
