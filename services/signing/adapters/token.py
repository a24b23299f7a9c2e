"""PKCS#11 key ring: the signing keys live on a token (SoftHSM2 here, a USB token or HSM in
production) and never leave it.

- The PKCS#11 module is loaded once per process (python-pkcs11 keeps it), the token is selected
  by LABEL (slot numbers change after initialisation, stack.md).
- One long-lived session per key label and a pyHanko `PKCS11Signer` bound to it. PKCS#11 login
  is per process and token, shared by all sessions, and a logout ends it for all: so the ring
  logs in once with a separate anchor session, and key sessions never log in or out.
- Requests for one key run one at a time in that key's single worker thread, so PKCS#11 calls
  never block the event loop and a session is never used by two threads.
- python-pkcs11 initialises the module with C_Initialize(NULL), i.e. WITHOUT library locking
  (SoftHSM2 then disables its mutexes), so every call into the module is serialised by one
  process-wide lock per module; PDF work for different keys still runs in parallel.
- If the token was unplugged or reset (session handle invalid, token not present, logged out)
  the key reopens its session and retries the request once.
- The PIN is held as a `SecretStr` and never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pkcs11
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography.exceptions import InvalidSignature
from pkcs11 import Attribute, ObjectClass
from pkcs11 import exceptions as p11e
from pydantic import SecretStr
from pyhanko.sign.pkcs11 import PKCS11Signer
from pyhanko.sign.signers import Signer
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_SIGNATURE_VALIDATOR,
    SignatureValidationContext,
)

from services.signing.adapters.keys import key_id_of

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"

class SignatureMismatch(p11e.PKCS11Error):
    """The token returned a signature that the key's certificate does not verify."""


# Errors after which the session is worth reopening: the token went away or was reset (or
# answered with another key, as a stale object handle after a reset could).
SESSION_LOST_ERRORS: tuple[type[BaseException], ...] = (
    SignatureMismatch,
    p11e.SessionHandleInvalid,
    p11e.SessionClosed,
    p11e.DeviceRemoved,
    p11e.DeviceError,
    p11e.TokenNotPresent,
    p11e.TokenNotRecognised,
    p11e.UserNotLoggedIn,
    p11e.ObjectHandleInvalid,
    p11e.KeyHandleInvalid,
    p11e.SlotIDInvalid,
)

_module_locks: dict[str, threading.RLock] = {}
_module_locks_guard = threading.Lock()


def module_lock(module_path: str) -> threading.RLock:
    """The process-wide lock around every call into one PKCS#11 module."""
    with _module_locks_guard:
        return _module_locks.setdefault(module_path, threading.RLock())


class TokenError(RuntimeError):
    pass


class _CK_SESSION_INFO(ctypes.Structure):
    _fields_ = [
        ("slotID", ctypes.c_ulong),
        ("state", ctypes.c_ulong),
        ("flags", ctypes.c_ulong),
        ("ulDeviceError", ctypes.c_ulong),
    ]


_CKS_RO_USER_FUNCTIONS, _CKS_RW_USER_FUNCTIONS = 1, 3


def session_logged_in(module_path: str, session) -> bool:
    """Whether the user is logged in on this session's token (login state is shared by all
    sessions of the process). python-pkcs11 does not wrap C_GetSessionInfo."""
    lib = ctypes.CDLL(module_path)  # the handle python-pkcs11 already loaded
    lib.C_GetSessionInfo.argtypes = [ctypes.c_ulong, ctypes.POINTER(_CK_SESSION_INFO)]
    lib.C_GetSessionInfo.restype = ctypes.c_ulong
    info = _CK_SESSION_INFO()
    rv = lib.C_GetSessionInfo(session.handle, ctypes.byref(info))
    if rv != 0:
        raise p11e.PKCS11Error(f"C_GetSessionInfo failed with CKR 0x{rv:08x}")
    return info.state in (_CKS_RO_USER_FUNCTIONS, _CKS_RW_USER_FUNCTIONS)


def open_user_session(module_path: str, token, pin: str, *, rw: bool = False):
    """A session on which the user is logged in, without a second C_Login when another
    session of this process already logged in (that fails with USER_ALREADY_LOGGED_IN, and
    closing a session that logged in logs out every session). Returns (session, logged_in_here).
    Call with the module lock held."""
    session = token.open(rw=rw)
    if session_logged_in(module_path, session):
        return session, False
    session.close()  # a public session: closing it does not log anybody out
    return token.open(rw=rw, user_pin=pin), True


def _session_lost(exc: BaseException) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, SESSION_LOST_ERRORS):
            return True
        if type(cur) is p11e.PKCS11Error and "(not initialized)" in str(cur):  # C_Finalize'd
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


class _TokenSigner(PKCS11Signer):
    """PKCS11Signer that signs synchronously in the calling (key worker) thread, under the
    module lock. pyHanko's own implementation hops to the default executor instead."""

    def __init__(self, session, label: str, *, lock: threading.RLock, ca_chain=()):
        super().__init__(
            session,
            cert_label=label,
            key_label=label,
            ca_chain=list(ca_chain),
            other_certs_to_pull=(),
        )
        self._p11_lock = lock

    def _load_objects(self):
        with self._p11_lock:
            super()._load_objects()

    async def ensure_objects_loaded(self):
        self._load_objects()

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run=False) -> bytes:
        if dry_run:
            return self.estimate_raw_signature_size_bytes() * b"0"
        self._load_objects()
        spec = self._select_pkcs11_signing_params(digest_algorithm, sign_kwargs=self.sign_kwargs(data))
        payload = spec.pre_sign_transform(data) if spec.pre_sign_transform is not None else data
        with self._p11_lock:
            signature = self._key_handle.sign(payload, **spec.sign_kwargs)
        if spec.post_sign_transform is not None:
            signature = spec.post_sign_transform(signature)
        # Check the token's answer against the certificate before it goes into a document: a
        # stale handle after a token reset could otherwise point at another key.
        try:
            DEFAULT_SIGNATURE_VALIDATOR.validate_signature(
                signature,
                data,
                self.signing_cert.public_key,
                self.get_signature_mechanism_for_digest(digest_algorithm),
                SignatureValidationContext(contextual_md_algorithm=digest_algorithm),
            )
        except InvalidSignature as exc:
            raise SignatureMismatch(
                f"token signature for key {self.key_label!r} does not verify with its certificate"
            ) from exc
        return signature


@dataclass
class KeyStats:
    jobs: int = 0
    reopened: int = 0
    in_flight: int = 0
    max_in_flight: int = 0


class TokenKey:
    """One key on the token. Implements `adapters.keys.SigningKey`."""

    def __init__(self, ring: TokenKeyRing, label: str) -> None:
        self.label = label
        self._ring = ring
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"token-{label}")
        self._session = None
        self._signer: _TokenSigner | None = None
        self._stats_lock = threading.Lock()
        self.stats = KeyStats()

    def __repr__(self) -> str:
        return f"TokenKey(label={self.label!r}, token={self._ring.token_label!r})"

    # -- public API ----------------------------------------------------------------------

    @property
    def certificate(self) -> asn1_x509.Certificate:
        if self._signer is None:
            raise TokenError(f"key {self.label!r} is not open")
        return self._signer.signing_cert

    @property
    def key_id(self) -> str:
        return key_id_of(self.certificate)

    async def open(self) -> None:
        await self._call(self._ensure_open)

    async def run(self, job: Callable[[Signer], T]) -> T:
        """Run `job(pyhanko_signer)` in this key's worker thread. Jobs for one key run one at a
        time, in arrival order. The job must be repeatable: it is retried once on a fresh
        session if the token was unplugged or reset."""
        return await self._call(self._run_blocking, job)

    async def with_session(self, fn: Callable[[Any, Any], T]) -> T:
        """Run `fn(session, private_key_object)` in the key's thread under the module lock
        (diagnostics and tests: attribute checks; the key material itself stays on the token)."""

        def call() -> T:
            self._ensure_open()
            with self._ring.lock:
                key = self._session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=self.label)
                return fn(self._session, key)

        return await self._call(call)

    async def aclose(self) -> None:
        try:
            await self._call(self._close_session)
        finally:
            self._executor.shutdown(wait=True)

    # -- worker-thread side ------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _run_blocking(self, job: Callable[[Signer], T]) -> T:
        with self._stats_lock:
            self.stats.in_flight += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
        try:
            self._ensure_open()
            try:
                return job(self._signer)
            except Exception as exc:
                if not _session_lost(exc):
                    raise
                log.warning(
                    "PKCS#11 session for key %s lost (%s); reopening and retrying once",
                    self.label,
                    type(exc).__name__,
                )
                self._reopen()
                return job(self._signer)
        finally:
            with self._stats_lock:
                self.stats.in_flight -= 1
                self.stats.jobs += 1

    def _ensure_open(self) -> None:
        if self._signer is not None:
            return
        ring = self._ring
        with ring.lock:
            session = ring._open_key_session()
            if not self._key_visible(session):
                session.close()
                raise TokenError(f"no private key labelled {self.label!r} on token {ring.token_label!r}")
            signer = _TokenSigner(session, self.label, lock=ring.lock, ca_chain=ring.chain)
            try:
                signer._load_objects()
            except p11e.PKCS11Error as exc:
                session.close()
                raise TokenError(f"key {self.label!r}: {type(exc).__name__} {exc}") from exc
        self._session, self._signer = session, signer
        log.info("PKCS#11 session open for key %s on token %s", self.label, ring.token_label)

    def _key_visible(self, session) -> bool:
        found = list(
            session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: self.label})
        )
        return len(found) == 1

    def _reopen(self) -> None:
        self._close_session()
        self.stats.reopened += 1
        self._ensure_open()

    def _close_session(self) -> None:
        session, self._session, self._signer = self._session, None, None
        if session is None:
            return
        with self._ring.lock:
            try:
                session.close()  # a public session: closing it logs nobody out
            except p11e.PKCS11Error:
                pass  # already invalid (token reset)


class TokenKeyRing:
    """Holds the PKCS#11 module and one `TokenKey` per key label.

        ring = TokenKeyRing(token_label="vanthu", user_pin=pin, chain=[ca_cert],
                            softhsm_conf=Path(".../softhsm2.conf"))
        await ring.open(["agency", "chairman"])      # fails fast on a wrong PIN / missing key
        signed = await sign_pdf(pdf, signer=ring.key("chairman"), ...)
        await ring.aclose()
    """

    def __init__(
        self,
        *,
        token_label: str,
        user_pin: str | SecretStr,
        module_path: str = DEFAULT_MODULE,
        chain: Iterable[asn1_x509.Certificate | Any] = (),
        softhsm_conf: Path | str | None = None,
    ) -> None:
        self.token_label = token_label
        self.module_path = module_path
        self._pin = user_pin if isinstance(user_pin, SecretStr) else SecretStr(user_pin)
        self.chain = [to_asn1_cert(c) for c in chain]
        self.softhsm_conf = Path(softhsm_conf) if softhsm_conf else None
        self.lock = module_lock(module_path)
        self._keys: dict[str, TokenKey] = {}
        self._anchor = None  # the session that holds the login

    def __repr__(self) -> str:  # never shows the PIN
        return f"TokenKeyRing(token={self.token_label!r}, module={self.module_path!r}, keys={list(self._keys)})"

    async def open(self, labels: Sequence[str]) -> None:
        if self.softhsm_conf is not None:
            from services.signing.adapters.token_setup import activate_softhsm_conf

            activate_softhsm_conf(self.softhsm_conf, self.module_path)
        for label in labels:
            await self.key(label).open()

    def key(self, label: str) -> TokenKey:
        key = self._keys.get(label)
        if key is None:
            key = self._keys[label] = TokenKey(self, label)
        return key

    @property
    def labels(self) -> list[str]:
        return list(self._keys)

    def _open_key_session(self):
        """A public session on the token, which is logged in: key sessions never log in or out
        themselves (login is per process and token, and logging out would end every session's
        login); one anchor session of the ring holds the login. Call with the lock held."""
        lib = pkcs11.lib(self.module_path)  # re-initialises the module if it was finalised
        try:
            token = lib.get_token(token_label=self.token_label)
        except p11e.NoSuchToken as exc:
            raise TokenError(f"no token labelled {self.token_label!r}") from exc
        session = token.open()
        if not session_logged_in(self.module_path, session):
            self._close_anchor()  # stale after a reset
            try:
                self._anchor = token.open(user_pin=self._pin.get_secret_value())
            except (p11e.PinIncorrect, p11e.PinInvalid, p11e.PinLenRange, p11e.PinLocked, p11e.PinExpired) as exc:
                session.close()
                raise TokenError(f"token {self.token_label!r} refused the PIN ({type(exc).__name__})") from None
            log.info("logged in to token %s", self.token_label)
        return session

    def check(self) -> list[str]:
        """Blocking (run it in a thread): reaches the token through PKCS#11 as signing would — a
        session, logged in again if a reset lost the login — and finds each open key's private
        key. Returns the labels found; raises TokenError when the token does not answer."""
        with self.lock:
            try:
                session = self._open_key_session()
            except p11e.PKCS11Error as exc:
                raise TokenError(f"token {self.token_label!r}: {type(exc).__name__} {exc}") from exc
            try:
                found = [label for label in self._keys if list(session.get_objects(
                    {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label}))]
            except p11e.PKCS11Error as exc:
                raise TokenError(f"token {self.token_label!r}: {type(exc).__name__} {exc}") from exc
            finally:
                with contextlib.suppress(p11e.PKCS11Error):
                    session.close()  # a public session: closing it logs nobody out
        return found

    def _close_anchor(self) -> None:
        anchor, self._anchor = self._anchor, None
        if anchor is not None:
            try:
                anchor.close()  # logs out
            except p11e.PKCS11Error:
                pass

    async def aclose(self) -> None:
        keys, self._keys = list(self._keys.values()), {}
        for key in keys:
            await key.aclose()
        with self.lock:
            self._close_anchor()

    async def __aenter__(self) -> TokenKeyRing:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()


def to_asn1_cert(cert: Any) -> asn1_x509.Certificate:
    """Accepts asn1crypto or `cryptography` certificates, DER or PEM bytes, or a path."""
    if isinstance(cert, asn1_x509.Certificate):
        return cert
    if isinstance(cert, (str, Path)):
        cert = Path(cert).read_bytes()
    if isinstance(cert, bytes):
        if pem.detect(cert):
            _, _, cert = pem.unarmor(cert)
        return asn1_x509.Certificate.load(cert)
    public_bytes = getattr(cert, "public_bytes", None)
    if public_bytes is not None:  # cryptography.x509.Certificate
        from cryptography.hazmat.primitives.serialization import Encoding

        return asn1_x509.Certificate.load(public_bytes(Encoding.DER))
    raise TypeError(f"not a certificate: {type(cert).__name__}")
