"""Settings from environment variables, one class for every service.

Each service reads the fields it needs; names are the environment variables (upper-case).
Secrets are `SecretStr` so they never reach a log line by accident.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", env_file=None)

    # --- infrastructure --------------------------------------------------------------
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    mongodb_url: str = "mongodb://127.0.0.1:27018/"
    database_prefix: str = "vanthu"
    # A store command slower than this is logged with its collection and the shape of its filter
    # (values left out): how a query that scans is found in production. 0 turns it off.
    store_slow_command_ms: float = 500.0
    var_dir: Path = REPO_ROOT / "var"

    # --- the commune (mã định danh, R-10.4) -------------------------------------------
    agency_id: str = "000.24.26.H56"
    agency_name: str = "UBND xã Hoằng Đức"
    agency_full_name: str = "Ủy ban nhân dân xã Hoằng Đức"
    agency_place: str = "Hoằng Đức"
    agency_notation: str = "UBND"  # ký hiệu of the issuing organisation (NĐ 30 Phụ lục III)
    clerk_department: str = "Văn phòng - Thống kê"
    clerk_name: str = "Văn thư UBND xã"

    # --- organisation directory (peers are data, never code) ---------------------------
    directory_file: Path = REPO_ROOT / "deploy" / "directory.json"
    # Public holidays and make-up working days for deadlines (shared/workdays.py); operator-edited.
    holiday_calendar_file: Path = REPO_ROOT / "deploy" / "calendar" / "vn-holidays.json"
    staff_file: Path = REPO_ROOT / "deploy" / "staff.json"  # who holds which role (until accounts exist)

    # --- HTTP endpoints of the services (blob claim-checks, APIs) ----------------------
    gateway_url: str = "http://127.0.0.1:8101"
    intake_url: str = "http://127.0.0.1:8102"
    dispatch_url: str = "http://127.0.0.1:8103"
    signing_url: str = "http://127.0.0.1:8104"
    archive_url: str = "http://127.0.0.1:8105"
    http_timeout_seconds: float = 30.0
    # Ed25519 keys of the token issuers: `<issuer>.pub` for every verifier, `<name>.key`
    # only for the process that is that issuer (the portal; each service for its own calls).
    auth_keys_dir: Path | None = None  # unset: VAR_DIR/auth
    portal_url: str = "http://127.0.0.1:8106"

    # --- the portal: accounts and sessions (issue 6) ---------------------
    # The first password of every account seeded from STAFF_FILE; changing it is forced at first sign-in.
    portal_initial_password: SecretStr = SecretStr("DoiMatKhau@2026")
    # The session cookie is Secure (HTTPS only); the devstack serves plain http on 127.0.0.1.
    portal_cookie_secure: bool = True
    portal_session_idle_minutes: float = 30.0
    portal_session_absolute_hours: float = 12.0
    portal_lockout_attempts: int = 5  # failed sign-ins in a row before the account is locked
    portal_lockout_minutes: float = 15.0

    # --- the interconnection axis -------------------------------------------------------
    axis_url: str = "http://127.0.0.1:8200"
    axis_system_id: str = "vanthu.000.24.26.H56"
    axis_secret: SecretStr = SecretStr("dev-secret-hoang-duc")
    axis_poll_interval_seconds: float = 5.0
    axis_send_max_attempts: int = 8
    axis_send_backoff_seconds: float = 2.0
    axis_send_backoff_max_seconds: float = 600.0
    # a recipient that has not acknowledged (status 01) an issued document this long after
    # the axis accepted it gets it again, at most this many times; then the clerk is shown it.
    redelivery_after_seconds: float = 7200.0
    redelivery_max: int = 3
    redelivery_check_seconds: float = 60.0
    # Largest package taken from or given to the axis (raw edXML, attachments base64 inside):
    # a bigger one is refused unread, its sender told why (issue 7; the gateway, dispatch).
    max_package_bytes: int = 50 * 1024 * 1024
    # The evidence log of the axis exchange (gateway): a seal (RFC 3161 timestamp over the chain
    # head) every this many entries, or once the oldest unsealed entry is this old.
    evidence_seal_entries: int = 100
    evidence_seal_seconds: float = 5.0

    # --- PKCS#11 token (SoftHSM2 here; a USB token or HSM is a configuration change) ----
    token_module: str = "/usr/lib/softhsm/libsofthsm2.so"
    token_label: str = "vanthu"
    token_pin: SecretStr = SecretStr("246810")  # dev default of the token set-up; set TOKEN_PIN
    token_config_dir: Path = REPO_ROOT / "var" / "token"
    agency_key_label: str = "agency"
    # Who holds each key, by role (R-8.2, R-8.3a); others need a recorded delegation. Unset:
    # the chairman's key its chairman, the agency key the clerk.
    key_holders: dict[str, list[str]] | None = None
    # RFC 3161 time-stamping server for PAdES B-T (TSA_URL); unset: signatures are B-B.
    tsa_url: str | None = None
    tsa_timeout_seconds: float = 10.0
    # PEM files of the CAs a TSA certificate must chain to (evidence seals); unset: TRUST_ROOTS.
    tsa_trust_roots: list[Path] = Field(default_factory=list)
    chairman_key_label: str = "chairman"

    # --- signature validation -------------------------------------------------------------
    # PEM files with the trust roots the operator manages (R-6.1): peers' CAs and our own.
    trust_roots: list[Path] = Field(default_factory=list)
    verification_max_attempts: int = 6  # indeterminate verdicts are retried, never refused
    crl_cache_seconds: float = 300.0  # a CRL is re-fetched after this, or at its nextUpdate

    # --- archive integrity (R-4.1, R-9.1, R-11.1) -------------------------------------------
    fixity_interval_seconds: float = 86400.0  # every stored file re-read and re-hashed
    preservation_interval_seconds: float = 86400.0  # archived signatures checked for B-LTA renewal
    # A fresh document timestamp is added when the latest timestamp's TSA certificate expires within this.
    archive_retimestamp_margin_days: int = 365
    # an approved destruction waits this long in a recoverable bin before the content goes.
    disposal_bin_days: float = 30.0
    disposal_check_seconds: float = 3600.0

    # --- bus ---------------------------------------------------------------------------
    bus_prefetch: int = 8
    bus_max_retries: int = 5
    bus_publish_window: int = 256
    bus_publish_timeout_seconds: float = 10.0

    # --- the operator's console (portal /van-hanh, R-13) ----------------------------------
    # RabbitMQ's management API; unset: AMQP_URL's host on port 15672 with its credentials and vhost.
    rabbitmq_management_url: str | None = None
    grafana_url: str | None = None  # linked from the console when set; the console works without it

    log_level: str = "INFO"

    def holders_of_keys(self) -> dict[str, list[str]]:
        return self.key_holders or {self.chairman_key_label: ["chairman"], self.agency_key_label: ["clerk"]}

    @model_validator(mode="after")
    def _derived_paths(self) -> "Settings":
        if self.auth_keys_dir is None:
            self.auth_keys_dir = self.var_dir / "auth"
        return self

    def database_name(self, service: str) -> str:
        return f"{self.database_prefix}_{service}"

    def service_url(self, service: str) -> str:
        return getattr(self, f"{service}_url")


@lru_cache
def get_settings() -> Settings:
    return Settings()
