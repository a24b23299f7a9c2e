"""Who is calling, and may they (R-15.5): no service trusts the network.

Every service API accepts only calls carrying a short-lived signed token (JWT, EdDSA/Ed25519)
naming the user and their role. Tokens are minted by an *issuer* holding a private key:

- the portal (`portal`), after a user signed in, mints a token per call for that user and role;
- each service mints tokens for itself (role `service`, subject = its own name) for the few
  service-to-service calls (fetching blobs by hash).

A verifier holds only public keys (`AUTH_KEYS_DIR/<issuer>.pub`). A service token is accepted only
when the issuer *is* the service it names, so a compromised service cannot pass itself off as a
user; only the portal's key can name users.

Which roles may call which route is each service's own rule table (`domain/access.py`), applied
to every route by `shared.service.create_app`; a route without a rule makes the service refuse to
start, so nothing is reachable by accident.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import HTTPException, Request

from shared.staff import Role

TOKEN_TTL_SECONDS = 300  # short-lived: the portal mints a new one for each call
ALGORITHM = "EdDSA"
AUDIENCE = "vanthu"
SERVICE_ROLE = "service"
PORTAL_ISSUER = "portal"
USER_ISSUERS = frozenset({PORTAL_ISSUER})


class AuthError(Exception):
    """A token that cannot be accepted; the message says why (never the token itself)."""


@dataclass(frozen=True)
class Principal:
    user: str
    role: str
    name: str
    issuer: str

    @property
    def is_service(self) -> bool:
        return self.role == SERVICE_ROLE


# ---- keys ---------------------------------------------------------------------------------


def ensure_keys(keys_dir: Path, issuers: Iterable[str]) -> None:
    """Create an Ed25519 key pair per issuer when missing (development and tests; production
    mounts them as secrets)."""
    keys_dir = Path(keys_dir)
    keys_dir.mkdir(parents=True, exist_ok=True)
    for issuer in issuers:
        private_path, public_path = keys_dir / f"{issuer}.key", keys_dir / f"{issuer}.pub"
        if private_path.exists() and public_path.exists():
            continue
        key = Ed25519PrivateKey.generate()
        private_path.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
        )
        private_path.chmod(0o600)
        public_path.write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )


@lru_cache(maxsize=32)
def _private_key(path: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise AuthError(f"{path} is not an Ed25519 private key")
    return key


@lru_cache(maxsize=32)
def _public_keys(keys_dir: str, _mtime: int) -> dict[str, Ed25519PublicKey]:
    keys: dict[str, Ed25519PublicKey] = {}
    for path in sorted(Path(keys_dir).glob("*.pub")):
        key = serialization.load_pem_public_key(path.read_bytes())
        if isinstance(key, Ed25519PublicKey):
            keys[path.stem] = key
    return keys


def public_keys(keys_dir: Path) -> dict[str, Ed25519PublicKey]:
    keys_dir = Path(keys_dir)
    mtime = keys_dir.stat().st_mtime_ns if keys_dir.exists() else 0
    return _public_keys(str(keys_dir), mtime)


# ---- minting and checking -------------------------------------------------------------------


class TokenIssuer:
    def __init__(self, keys_dir: Path, issuer: str, ttl_seconds: int = TOKEN_TTL_SECONDS) -> None:
        self.issuer = issuer
        self.ttl = ttl_seconds
        self._key_path = str(Path(keys_dir) / f"{issuer}.key")

    def mint(self, user: str, role: str, name: str = "") -> str:
        if self.issuer not in USER_ISSUERS and (role != SERVICE_ROLE or user != self.issuer):
            raise AuthError(f"{self.issuer} may only mint tokens for itself")
        now = dt.datetime.now(dt.UTC)
        claims = {
            "iss": self.issuer, "sub": user, "role": str(role), "name": name, "aud": AUDIENCE,
            "iat": now, "nbf": now - dt.timedelta(seconds=5), "exp": now + dt.timedelta(seconds=self.ttl),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, _private_key(self._key_path), algorithm=ALGORITHM)

    def service_token(self) -> str:
        return self.mint(self.issuer, SERVICE_ROLE, self.issuer)

    def headers(self, user: str, role: str, name: str = "") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.mint(user, role, name)}"}


def verify_token(token: str, keys_dir: Path) -> Principal:
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise AuthError(f"malformed token: {exc}") from None
    if header.get("alg") != ALGORITHM:
        raise AuthError("token algorithm not accepted")
    issuer = str(unverified.get("iss", ""))
    key = public_keys(keys_dir).get(issuer)
    if key is None:
        raise AuthError(f"unknown token issuer {issuer!r}")
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=issuer,
                            options={"require": ["exp", "iat", "sub", "iss", "aud"]}, leeway=5)
    except jwt.ExpiredSignatureError:
        raise AuthError("token expired") from None
    except jwt.PyJWTError as exc:
        raise AuthError(f"token refused: {exc}") from None
    role, user = str(claims.get("role", "")), str(claims["sub"])
    if role == SERVICE_ROLE:
        if user != issuer:
            raise AuthError("a service token must be issued by that service")
    elif issuer not in USER_ISSUERS:
        raise AuthError(f"{issuer} may not issue user tokens")
    elif role not in {r.value for r in Role}:
        raise AuthError(f"unknown role {role!r}")
    return Principal(user=user, role=role, name=str(claims.get("name", "")), issuer=issuer)


# ---- the route rule, applied by create_app --------------------------------------------------

# (method, path template) → roles allowed; a service's `domain/access.py` holds its table.
AccessRules = Mapping[tuple[str, str], frozenset[str]]
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"})
BLOB_RULE = {("GET", "/blobs/{sha256}"): frozenset({SERVICE_ROLE})}

def missing_rules(routes: Iterable, rules: AccessRules) -> list[str]:
    """Routes (method, path) that have no access rule: the service must not start with any."""
    missing = []
    for route in routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if not path or not methods or path in OPEN_PATHS:
            continue
        for method in sorted(methods - {"HEAD", "OPTIONS"}):
            if (method, path) not in rules:
                missing.append(f"{method} {path}")
    return missing


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def authorizer(rules: AccessRules, keys_dir: Path):
    """A FastAPI dependency: the caller's token is valid and their role may use this route."""

    async def authorize(request: Request) -> Principal:
        token = bearer_token(request)
        if token is None:
            raise HTTPException(401, "Cần đăng nhập: thiếu mã xác thực (Authorization: Bearer)",
                                headers={"WWW-Authenticate": "Bearer"})
        try:
            principal = verify_token(token, keys_dir)
        except AuthError as exc:
            raise HTTPException(401, f"Mã xác thực không hợp lệ: {exc}", headers={"WWW-Authenticate": "Bearer"})
        route = request.scope.get("route")
        key = (request.method, getattr(route, "path", request.url.path))
        allowed = rules.get(key)
        if allowed is None or principal.role not in allowed:
            raise HTTPException(403, f"Vai trò «{principal.role}» không được phép: {key[0]} {key[1]}")
        request.state.principal = principal
        return principal

    return authorize


def acting_user(request: Request, claimed: str | None = None) -> str:
    """The user an action is recorded for: the token's user. A service acting for the system
    may name the user; a person may only act as themself (R-15.5: nobody uses another's account)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        raise HTTPException(401, "Cần đăng nhập")
    if principal.is_service:
        if not claimed:
            raise HTTPException(422, "a service acting for a user must name them")
        return claimed
    if claimed and claimed != principal.user:
        raise HTTPException(403, f"Không được thao tác thay người khác: «{claimed}» không phải tài khoản đang đăng nhập")
    return principal.user


def roles(*names: str | Role) -> frozenset[str]:
    return frozenset(str(n.value if isinstance(n, Role) else n) for n in names)
