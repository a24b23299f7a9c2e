"""The operator's account repairs until the operator console exists:

    python -m services.portal.admin unlock USER          # lift a lock-out
    python -m services.portal.admin reset-password USER  # a one-time password, changed at next sign-in

Run with the portal's settings (MONGODB_URL, DATABASE_PREFIX). Both are audited, naming the
operating-system user who ran them."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from types import SimpleNamespace

from services.portal.handlers import accounts
from shared.config import get_settings
from shared.db import Store


async def _run(command: str, user: str) -> int:
    settings = get_settings()
    store = Store(settings.mongodb_url, settings.database_name("portal"), app_name="portal-admin")
    ctx = SimpleNamespace(settings=settings, store=store)
    by = f"operator-cli:{getpass.getuser()}"
    try:
        if command == "unlock":
            await accounts.unlock(ctx, user, by=by)
            print(f"Đã mở khóa tài khoản {user}.")
        else:
            temporary = await accounts.reset_password(ctx, user, by=by)
            print(f"Mật khẩu tạm thời của {user}: {temporary}\nGiao trực tiếp cho người dùng; phải đổi khi đăng nhập.")
    except accounts.NoSuchAccount:
        print(f"Không có tài khoản {user}.", file=sys.stderr)
        return 1
    finally:
        await store.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.portal.admin", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["unlock", "reset-password"])
    parser.add_argument("user")
    args = parser.parse_args(argv)
    return asyncio.run(_run(args.command, args.user))


if __name__ == "__main__":
    raise SystemExit(main())
