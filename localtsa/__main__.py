"""python -m localtsa --port 8210 --data-dir var/tsa"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from localtsa.server import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8210)
    parser.add_argument("--data-dir", type=Path, default=Path("var/tsa"))
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    uvicorn.run(create_app(args.data_dir), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
